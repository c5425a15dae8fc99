"""Request limits of the API: a streamed cap on every request body, and per-key rate limits (Redis).

The body cap counts bytes as they arrive, so a body without Content-Length (chunked) cannot grow past it; a
declared Content-Length over the cap is refused before anything is read."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable

import redis
from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)


class BodyTooLargeError(HTTPException):
    def __init__(self, limit: int, code: str) -> None:
        super().__init__(413, f"request body is over the {limit} byte limit")
        self.code = code


class RateLimitedError(HTTPException):
    def __init__(self, limit: int, retry_after_s: int) -> None:
        super().__init__(429, f"over {limit} requests per minute for this API key; retry later",
                         headers={"Retry-After": str(retry_after_s)})


class BodyLimit:
    """Pure ASGI middleware: `limit_for(content_type)` is the most bytes a body of that type may have, and the
    error code to answer with."""

    def __init__(self, app: ASGIApp, limit_for: Callable[[str], tuple[int, str]]) -> None:
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        limit, code = self.limit_for(headers.get("content-type", ""))
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await _refuse(send, limit, code)
            return
        received = 0

        async def capped() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLargeError(limit, code)
            return message

        await self.app(scope, capped, send)


async def _refuse(send: Send, limit: int, code: str) -> None:
    body = json.dumps({"error": {"code": code,
                                 "message": f"request body is over the {limit} byte limit"}}).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


class RateLimiter:
    """A fixed one-minute window per key in Redis (shared by every API replica). When Redis is away the limit
    is not enforced (the submission itself then fails on the broker), logged once per window."""

    def __init__(self, client: redis.Redis, per_minute: int) -> None:
        self.client = client
        self.per_minute = per_minute
        self._warned_window = -1

    def hit(self, key_id: str) -> None:
        if self.per_minute <= 0:
            return
        now = time.time()
        window = int(now // 60)
        name = f"p2p:rate:{key_id}:{window}"
        try:
            pipe = self.client.pipeline()
            pipe.incr(name)
            pipe.expire(name, 120)
            count = int(pipe.execute()[0])
        except redis.RedisError:
            if self._warned_window != window:
                log.warning("rate limiting is off: Redis is not reachable", exc_info=True)
                self._warned_window = window
            return
        if count > self.per_minute:
            raise RateLimitedError(self.per_minute, max(1, int(60 - now % 60)))
