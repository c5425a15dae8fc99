"""The LLM slot router: each request goes to the least busy slot, answers and errors pass through unchanged."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from starlette.testclient import TestClient

from workers.language.local_llm_pool import Slots, create_app


class Echo(BaseHTTPRequestHandler):
    """A stand-in slot: answers with its own name, the path and the body it got (status 503 on /v1/busy)."""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        port = self.server.server_address[1]  # type: ignore[index]
        reply = json.dumps({"slot": port, "path": self.path, "body": json.loads(body)}).encode()
        self.send_response(503 if self.path.endswith("/busy") else 200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def slot_servers() -> Iterator[list[ThreadingHTTPServer]]:
    servers = [ThreadingHTTPServer(("127.0.0.1", 0), Echo) for _ in range(2)]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    yield servers
    for server in servers:
        server.shutdown()


def test_given_two_slots_when_requests_come_one_by_one_then_they_alternate_and_pass_through(
    slot_servers: list[ThreadingHTTPServer],
) -> None:
    urls = [f"http://127.0.0.1:{server.server_port}" for server in slot_servers]
    with TestClient(create_app(urls)) as client:  # type: ignore[arg-type]
        replies = [client.post("/v1/chat/completions", json={"n": n}) for n in range(4)]
        busy = client.post("/v1/busy", json={})
    assert [r.status_code for r in replies] == [200] * 4
    assert [r.json()["body"] for r in replies] == [{"n": n} for n in range(4)]
    assert {r.json()["path"] for r in replies} == {"/v1/chat/completions"}
    assert len({r.json()["slot"] for r in replies}) == 2
    assert busy.status_code == 503


def test_the_least_busy_slot_is_picked() -> None:
    slots = Slots(["a", "b", "c"])
    slots.busy = [2, 0, 1]
    assert {slots.pick() for _ in range(6)} == {1}
    slots.busy = [1, 1, 1]
    assert {slots.pick() for _ in range(6)} == {0, 1, 2}
