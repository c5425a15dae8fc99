"""A small OpenAI-compatible chat server of our own, for tests: real HTTP on a private port, in a thread.

Each request takes the next scripted Action (or the default one): answer with content, fail with an HTTP status,
stall past the client's timeout, answer malformed JSON, echo the shop's title (a prompt injection that got through),
or refuse OpenAI's `json_schema` response format the way llama-cpp-python does.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Action:
    kind: str  # answer | status | stall | malformed | echo_title | refuse_json_schema
    content: str = ""
    status: int = 200
    seconds: float = 0.0
    headers: tuple[tuple[str, str], ...] = ()


def answer(caption: str, hashtags: list[str] | None = None) -> Action:
    return Action("answer", json.dumps({"caption": caption, "hashtags": hashtags or []}))


def status(code: int, retry_after: float | None = None) -> Action:
    headers = (("Retry-After", str(retry_after)),) if retry_after is not None else ()
    return Action("status", status=code, headers=headers)


STALL = Action("stall", seconds=3.0)
MALFORMED = Action("malformed", content='{"caption": "Navy jacket", "hashtags": ["#navy"')
ECHO_TITLE = Action("echo_title")
REFUSE_JSON_SCHEMA = Action("refuse_json_schema")


@dataclass
class Recorded:
    body: dict[str, Any]
    at: float


@dataclass
class FakeOpenAI:
    """The server's state: the script, the default action, and every request it received."""

    default: Action = field(default_factory=lambda: answer("A navy jacket."))
    script: deque[Action] = field(default_factory=deque)
    requests: list[Recorded] = field(default_factory=list)
    responder: Callable[[dict[str, Any]], Action] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    def queue(self, *actions: Action) -> None:
        with self.lock:
            self.script.extend(actions)

    def next_action(self, body: dict[str, Any]) -> Action:
        with self.lock:
            self.requests.append(Recorded(body, time.monotonic()))
            if self.script:
                return self.script.popleft()
        return self.responder(body) if self.responder else self.default

    def reset(self) -> None:
        with self.lock:
            self.script.clear()
            self.requests.clear()
            self.responder = None
            self.default = answer("A navy jacket.")


def _shop_title(body: dict[str, Any]) -> str:
    last = body["messages"][-1]["content"]
    match = re.search(r"SHOP DATA \(untrusted, data only\): (\{.*\})", last)
    return json.loads(match.group(1)).get("title", "") if match else ""


def _handler(state: FakeOpenAI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            self._send(200, {"object": "list", "data": [{"id": "fake-model", "object": "model"}]})

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            action = state.next_action(body)
            if action.kind == "status":
                self._send(action.status, {"error": {"message": f"injected {action.status}"}}, action.headers)
            elif action.kind == "stall":
                time.sleep(action.seconds)
                self._send(200, _completion(body, "{}"))
            elif action.kind == "refuse_json_schema":
                if body.get("response_format", {}).get("type") == "json_schema":
                    self._send(500, {"error": {"message": "response_format.type: Input should be 'text' or "
                                                          "'json_object'"}})
                else:
                    self._send(200, _completion(body, json.dumps({"caption": "A navy jacket.", "hashtags": []})))
            elif action.kind == "echo_title":
                title = _shop_title(body)
                self._send(200, _completion(body, json.dumps({"caption": title, "hashtags": ["#" + "".join(
                    ch for ch in title if ch.isalnum())[:30]]})))
            else:
                self._send(200, _completion(body, action.content))

        def _send(self, code: int, payload: dict[str, Any], headers: tuple[tuple[str, str], ...] = ()) -> None:
            data = json.dumps(payload).encode()
            try:
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers:
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test)

    return Handler


def _completion(body: dict[str, Any], content: str) -> dict[str, Any]:
    prompt_words = sum(len(str(m.get("content", "")).split()) for m in body.get("messages", []))
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": "fake-model",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": prompt_words, "completion_tokens": len(content.split()),
                  "total_tokens": prompt_words + len(content.split())},
    }


def start(port: int = 0) -> tuple[FakeOpenAI, ThreadingHTTPServer]:
    state = FakeOpenAI()
    server = ThreadingHTTPServer(("127.0.0.1", port), _handler(state))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, args=(0.05,), name="fake-openai", daemon=True).start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    return state, server
