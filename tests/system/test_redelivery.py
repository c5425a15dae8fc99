"""A vision worker killed mid-task (SIGKILL: no chance to hand anything back): its lease on the job lapses (no
heartbeat), the reconciler re-drives the job, another worker finishes it within 2 minutes with the default
settings (the message itself would only come back after the 3600 s visibility timeout), and the job is written
once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from producer import Client
from producer.auth import key_digest
from shared.ports import free_port
from shared.store import JobStore
from tests.support import fake_openai
from tests.support.helpers import jpeg_bytes

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

KEY = "redelivery-key"
RECOVERY_S = 120  # lease (30 s) + a reconciler sweep (10 s) + the rescuer's pickup, with room


@pytest.fixture()
def env(redis_url: str, pg_schema_url: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    state, server = fake_openai.start()
    yield {
        **os.environ,
        "P2P_BROKER_URL": redis_url, "P2P_DATABASE_URL": pg_schema_url, "P2P_DATA_DIR": str(tmp_path),
        "P2P_BLOB_DIR": str(tmp_path / "blobs"), "P2P_API_KEYS": key_digest(KEY),
        "P2P_LLM_BASE_URL": state.url,
        "P2P_LLM_TIMEOUT_S": "2", "P2P_BATCH_WAIT_MS": "10",
    }
    server.shutdown()
    server.server_close()


def start(argv: list[str], env: dict[str, str], log: Path, **extra_env: str) -> subprocess.Popen[bytes]:
    with log.open("ab") as handle:
        return subprocess.Popen([sys.executable, "-m", "pixels2posts", *argv], env={**env, **extra_env},
                                stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)


def vision(name: str, env: dict[str, str], log: Path, sleep_s: str) -> subprocess.Popen[bytes]:
    return start(["worker", "vision", "-n", name, "--metrics-port", "0", "--stage-class",
                  "tests.support.stand_in_vision:MeanColourPipeline"], env, log, P2P_TEST_VISION_SLEEP_S=sleep_s)


def test_given_a_worker_killed_mid_task_when_another_starts_then_the_job_finishes_once(
    env: dict[str, str], tmp_path: Path
) -> None:
    api_port = free_port()
    store = JobStore(env["P2P_DATABASE_URL"])
    processes = [
        start(["api", "--port", str(api_port)], env, tmp_path / "api.log"),
        start(["worker", "language", "-n", "language@redelivery", "--metrics-port", "0"], env,
              tmp_path / "language.log"),
    ]
    doomed = vision("vision-doomed@redelivery", env, tmp_path / "doomed.log", sleep_s="600")
    processes.append(doomed)
    try:
        with Client(f"http://127.0.0.1:{api_port}", KEY) as client:
            deadline = time.monotonic() + 60
            while True:
                try:
                    job_id = client.submit_file(jpeg_bytes(7), sku="KILLED")["job_id"]
                    break
                except httpx.TransportError:
                    assert time.monotonic() < deadline, (tmp_path / "api.log").read_text()
                    time.sleep(0.5)
            while store.get(job_id).state != "running":  # type: ignore[union-attr]
                assert time.monotonic() < deadline, (tmp_path / "doomed.log").read_text()[-2000:]
                time.sleep(0.2)
            os.killpg(doomed.pid, signal.SIGKILL)
            doomed.wait()
            killed_at = time.monotonic()
            processes.append(vision("vision-rescuer@redelivery", env, tmp_path / "rescuer.log", sleep_s="0"))
            job = client.wait(job_id, timeout_s=RECOVERY_S, poll_s=1)
            waited = time.monotonic() - killed_at
    finally:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=60)

    assert job["status"] == "succeeded", job
    saved = store.get(job_id)
    assert saved is not None
    # the vision stage was delivered twice (killed, then finished); the count restarts per stage, and the language
    # stage took the job once
    assert saved.deliveries == 1 and saved.stage == "language"
    assert waited < RECOVERY_S  # the lease, not the visibility timeout, brought it back
