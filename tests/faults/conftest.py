"""Fixtures of the fault tests: a fake LLM, the environment every process of a stack shares, a webhook receiver
that records delivery ids, and the fault table rows each test reports (docs/reliability.md)."""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from producer.auth import key_digest
from shared.store import JobStore
from tests.support import fake_openai

KEY = "faults-key"
SECRET = "faults-webhook-secret-0123456789"
STAND_IN = "tests.support.stand_in_vision:MeanColourPipeline"
REAL_VISION = "workers.vision.pipeline:VisionPipeline"
TABLE = Path(os.environ.get("P2P_FAULT_TABLE", "/tmp/p2p-fault-table.jsonl"))


def grounded(body: dict[str, Any]) -> fake_openai.Action:
    match = re.search(r"MUST MENTION: (.+)", body["messages"][-1]["content"])
    phrase = match.group(1).strip() if match else "outfit"
    return fake_openai.answer(f"A {phrase} for every day.", ["#" + phrase.replace(" ", "")])


@pytest.fixture()
def llm() -> Iterator[fake_openai.FakeOpenAI]:
    state, server = fake_openai.start()
    state.responder = grounded
    yield state
    server.shutdown()
    server.server_close()


@dataclass
class Receiver:
    url: str = ""
    deliveries: dict[str, set[str]] = field(default_factory=dict)  # job id -> delivery ids
    paths: dict[str, list[str]] = field(default_factory=dict)  # job id -> the URL paths its webhooks came to
    lock: threading.Lock = field(default_factory=threading.Lock)

    def duplicated(self) -> int:
        """Jobs the receiver saw under more than one delivery id (a repeat of one id is the at-least-once retry
        it dedupes on; two ids would be two webhooks for one job)."""
        with self.lock:
            return sum(1 for ids in self.deliveries.values() if len(ids) > 1)


def start_receiver() -> tuple[Receiver, ThreadingHTTPServer]:
    """A webhook receiver on a private port, in a thread: records the delivery ids per job, answers 204."""
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            with state.lock:
                state.deliveries.setdefault(body["job_id"], set()).add(self.headers.get("X-P2P-Delivery", ""))
                state.paths.setdefault(body["job_id"], []).append(self.path)
            self.send_response(204)
            self.end_headers()

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return state, server


@pytest.fixture()
def logs(tmp_path: Path) -> Path:
    """Each process of a stack writes its log here (read them when a fault test fails)."""
    path = tmp_path / "logs"
    path.mkdir()
    return path


@pytest.fixture()
def receiver() -> Iterator[Receiver]:
    state, server = start_receiver()
    yield state
    server.shutdown()
    server.server_close()


def stack_env(broker_url: str, database_url: str, state: Path, llm_url: str, **extra: str) -> dict[str, str]:
    """Default reliability settings (lease, reconciler, visibility timeout): the point is that they suffice."""
    env = {
        **os.environ, "P2P_BROKER_URL": broker_url, "P2P_DATABASE_URL": database_url, "P2P_DATA_DIR": str(state),
        "P2P_BLOB_DIR": str(state / "blobs"), "P2P_API_KEYS": key_digest(KEY), "P2P_WEBHOOK_SECRET": SECRET,
        "P2P_ALLOW_PRIVATE_URLS": "true", "P2P_LLM_BASE_URL": llm_url, "P2P_LLM_MODEL": "fake-model",
        "P2P_LLM_RATE_LIMIT_PER_S": "1000", "P2P_ORT_INTRA_THREADS": "1", "P2P_BATCH_WAIT_MS": "200",
    }
    env.update(extra)
    return env


@dataclass(frozen=True)
class Tally:
    accepted: int
    succeeded: int
    failed: dict[str, int]
    lost: int
    duplicated: int

    def row(self, fault: str, note: str = "") -> dict[str, Any]:
        return {"fault": fault, "accepted": self.accepted, "succeeded": self.succeeded, "failed": self.failed,
                "lost": self.lost, "duplicated": self.duplicated, "note": note}


def tally(database_url: str, job_ids: list[str], receiver: Receiver | None = None) -> Tally:
    store = JobStore(database_url)
    jobs = [store.get(job_id) for job_id in job_ids]
    succeeded = sum(1 for job in jobs if job is not None and job.state == "succeeded")
    failed: dict[str, int] = {}
    for job in jobs:
        if job is not None and job.state == "failed":
            failed[job.error_code or "?"] = failed.get(job.error_code or "?", 0) + 1
    lost = len(job_ids) - succeeded - sum(failed.values())
    return Tally(len(job_ids), succeeded, failed, lost, receiver.duplicated() if receiver else 0)


def report(row: dict[str, Any]) -> None:
    """Append the row to the fault table file (docs/reliability.md is written from it) and print it."""
    print(json.dumps(row))
    with TABLE.open("a") as handle:
        handle.write(json.dumps(row) + "\n")
