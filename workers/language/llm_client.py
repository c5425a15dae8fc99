"""A client for any OpenAI-compatible chat endpoint (OpenAI, vLLM, Ollama, llama.cpp's servers) via `openai`.

- timeouts from settings; retries with exponential backoff and full jitter on 429, 5xx, timeouts and lost
  connections (Retry-After honoured); other 4xx fail at once;
- structured output: OpenAI's `json_schema` response format first, then llama-cpp-python's `json_object` + schema,
  then plain text; an endpoint that rejects a format is remembered and not asked again;
- a strict parser for the answer either way; a per-endpoint rate limit shared by all threads of the process.
"""

from __future__ import annotations

import json
import logging
import random
import re
import threading
import time
from dataclasses import dataclass
from typing import Any, Literal

import openai
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.errors import LLMUnavailableError, P2PError
from shared.settings import Settings, get_settings

log = logging.getLogger(__name__)

StructuredMode = Literal["json_schema", "json_object_schema", "text"]
MODES: tuple[StructuredMode, ...] = ("json_schema", "json_object_schema", "text")
MAX_BACKOFF_S = 8.0
MAX_RETRY_AFTER_S = 30.0


class LLMRequestRejectedError(P2PError):
    """The endpoint refused the request for a reason retrying cannot fix (auth, unknown model, bad request)."""

    code = "llm_request_rejected"
    http_status = 502


class LLMOutputError(P2PError):
    """The endpoint answered, but not with the JSON object we asked for."""

    code = "llm_bad_output"
    http_status = 502


class Draft(BaseModel):
    """What the model must return."""

    model_config = ConfigDict(extra="ignore", strict=True)
    caption: str = Field(min_length=1, max_length=1000)
    hashtags: list[str] = Field(default_factory=list, max_length=40)


@dataclass(frozen=True)
class LLMReply:
    draft: Draft
    model: str
    prompt_tokens: int
    completion_tokens: int
    seconds: float
    retries: int


class RateLimiter:
    """At most `rate` calls a second, spaced evenly, across threads."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + self.interval
        if start > now:
            time.sleep(start - now)


@dataclass
class _Endpoint:
    limiter: RateLimiter
    mode_index: int = 0


_ENDPOINTS: dict[str, _Endpoint] = {}
_ENDPOINTS_LOCK = threading.Lock()


def _endpoint(base_url: str, rate: float) -> _Endpoint:
    with _ENDPOINTS_LOCK:
        if base_url not in _ENDPOINTS:
            _ENDPOINTS[base_url] = _Endpoint(RateLimiter(rate))
        return _ENDPOINTS[base_url]


class LLMClient:
    """Thread-safe: one instance may serve all threads of a worker."""

    def __init__(self, settings: Settings | None = None, *, backoff_s: float = 0.5) -> None:
        self.settings = settings or get_settings()
        self.model = self.settings.llm_model
        self.backoff_s = backoff_s
        self._client = openai.OpenAI(
            base_url=self.settings.llm_base_url,
            api_key=self.settings.llm_api_key or "not-needed",
            timeout=self.settings.llm_timeout_s,
            max_retries=0,  # retries are ours: jittered, and counted
        )
        self._endpoint = _endpoint(self.settings.llm_base_url, self.settings.llm_rate_limit_per_s)

    @property
    def structured_mode(self) -> StructuredMode:
        return MODES[self._endpoint.mode_index]

    def complete(self, messages: list[dict[str, str]], schema: dict[str, Any], temperature: float | None = None
                 ) -> LLMReply:
        """One answer parsed into a Draft; raises LLMUnavailableError, LLMRequestRejectedError or LLMOutputError."""
        retries = 0
        started = time.monotonic()
        while True:
            mode = self.structured_mode
            self._endpoint.limiter.wait()
            try:
                response = self._client.chat.completions.create(
                    model=self.model,
                    messages=messages,  # type: ignore[arg-type]
                    max_tokens=self.settings.llm_max_tokens,
                    temperature=self.settings.llm_temperature if temperature is None else temperature,
                    **_response_format(mode, schema),
                )
            except openai.APIStatusError as exc:
                if _rejects_response_format(exc) and self._downgrade(mode):
                    continue
                if not _retryable_status(exc.status_code) or retries >= self.settings.llm_max_retries:
                    raise _final_error(exc) from exc
                self._sleep_before_retry(retries, _retry_after(exc))
            except openai.APIConnectionError as exc:  # includes timeouts
                if retries >= self.settings.llm_max_retries:
                    raise LLMUnavailableError(f"LLM endpoint {self.settings.llm_base_url} unreachable: {exc}") from exc
                self._sleep_before_retry(retries, None)
            else:
                return self._reply(response, time.monotonic() - started, retries)
            retries += 1

    def _downgrade(self, mode: StructuredMode) -> bool:
        index = MODES.index(mode)
        if index + 1 >= len(MODES):
            return False
        with _ENDPOINTS_LOCK:
            self._endpoint.mode_index = max(self._endpoint.mode_index, index + 1)
        log.info("endpoint %s does not take response_format %s; using %s", self.settings.llm_base_url, mode,
                 self.structured_mode)
        return True

    def _sleep_before_retry(self, retries: int, retry_after: float | None) -> None:
        ceiling = min(MAX_BACKOFF_S, self.backoff_s * 2**retries)
        delay = random.uniform(0, ceiling)
        if retry_after is not None:
            delay = max(delay, min(retry_after, MAX_RETRY_AFTER_S))
        log.warning("LLM call failed, retry %d in %.2fs", retries + 1, delay)
        time.sleep(delay)

    def _reply(self, response: Any, seconds: float, retries: int) -> LLMReply:
        if not getattr(response, "choices", None):
            raise LLMOutputError("LLM answered without choices")
        content = response.choices[0].message.content or ""
        usage = getattr(response, "usage", None)
        return LLMReply(
            draft=parse_draft(content),
            model=getattr(response, "model", None) or self.model,
            prompt_tokens=getattr(usage, "prompt_tokens", 0) or 0,
            completion_tokens=getattr(usage, "completion_tokens", 0) or 0,
            seconds=seconds,
            retries=retries,
        )


def _response_format(mode: StructuredMode, schema: dict[str, Any]) -> dict[str, Any]:
    if mode == "json_schema":
        return {"response_format": {"type": "json_schema",
                                    "json_schema": {"name": "caption", "schema": schema, "strict": True}}}
    if mode == "json_object_schema":
        return {"response_format": {"type": "json_object", "schema": schema}}
    return {}


def _rejects_response_format(exc: openai.APIStatusError) -> bool:
    return exc.status_code in (400, 422, 500) and "response_format" in str(exc).lower()


def _retryable_status(status: int) -> bool:
    return status in (408, 409, 429) or status >= 500


def _retry_after(exc: openai.APIStatusError) -> float | None:
    value = exc.response.headers.get("retry-after") if exc.response is not None else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _final_error(exc: openai.APIStatusError) -> P2PError:
    if _retryable_status(exc.status_code):
        return LLMUnavailableError(f"LLM endpoint kept failing (HTTP {exc.status_code}): {exc.message}")
    return LLMRequestRejectedError(f"LLM endpoint rejected the request (HTTP {exc.status_code}): {exc.message}")


_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$", re.IGNORECASE)


def parse_draft(content: str) -> Draft:
    """The one JSON object in `content` (code fences allowed around it), checked against Draft."""
    text = _FENCE.sub("", content.strip())
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        raise LLMOutputError(f"LLM answer holds no JSON object: {content[:120]!r}")
    try:
        data = json.loads(text[start : end + 1])
        return Draft.model_validate(data)
    except (json.JSONDecodeError, ValidationError) as exc:
        raise LLMOutputError(f"LLM answer is not the expected JSON ({exc.__class__.__name__}): {content[:120]!r}"
                             ) from exc
