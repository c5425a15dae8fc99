"""The commands the images run really start: the entrypoint's `api`, `flower` and `language` roles as subprocesses
against a real Redis, until the image's own health check (`p2p-healthcheck`) passes."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from shared.celery_config import SOFT_SHUTDOWN_S
from shared.ports import free_port
from shared.processes import stop_processes
from tests.deploy.test_entrypoint import entrypoint, healthcheck

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


@pytest.fixture()
def role_env(redis_url: str, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("P2P_")}
    env.update({
        "P2P_BROKER_URL": redis_url,
        "P2P_DATABASE_URL": f"sqlite:///{tmp_path / 'jobs.db'}",
        "P2P_DATA_DIR": str(tmp_path),
        "P2P_BLOB_DIR": str(tmp_path / "blobs"),
        "P2P_API_HOST": "127.0.0.1",
        "P2P_API_PORT": str(free_port()),
        "P2P_FLOWER_PORT": str(free_port()),
        "P2P_FLOWER_BASIC_AUTH": "ops:secret",
        "P2P_API_KEYS": "0" * 64,  # the API refuses to start without keys
        "P2P_METRICS_PORT": str(free_port()),
        "P2P_LLM_BASE_URL": f"http://127.0.0.1:{free_port()}/v1",  # nothing there: the worker must still start
        "REMAP_SIGTERM": "SIGQUIT",  # as the images set it
    })
    return env


def start(role: str, env: dict[str, str], monkeypatch: pytest.MonkeyPatch, *extra: str) -> subprocess.Popen[bytes]:
    for key, value in env.items():
        if key.startswith("P2P_"):
            monkeypatch.setenv(key, value)
    _, command = entrypoint.command_for([role, *extra])
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


@pytest.fixture()
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    stop_processes(started, grace_s=20)


def wait_healthy(role: str, process: subprocess.Popen[bytes], timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    url = healthcheck.health_url(role)
    while time.monotonic() < deadline:
        if process.poll() is not None:
            stderr = process.stderr.read().decode() if process.stderr else ""
            pytest.fail(f"{role} exited {process.returncode}: {stderr[-2000:]}")
        if healthcheck.main([role]) == 0:
            return
        time.sleep(0.5)
    pytest.fail(f"{role} did not become healthy at {url} within {timeout_s:.0f}s")


def test_given_the_api_role_then_the_api_starts_and_passes_the_image_health_check(
    role_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, processes: list[subprocess.Popen[bytes]]
) -> None:
    processes.append(start("api", role_env, monkeypatch))
    wait_healthy("api", processes[0])


def test_given_the_flower_role_then_flower_starts_with_auth_and_passes_the_image_health_check(
    role_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, processes: list[subprocess.Popen[bytes]]
) -> None:
    processes.append(start("flower", role_env, monkeypatch, "--address=127.0.0.1"))
    wait_healthy("flower", processes[0])
    base = f"http://127.0.0.1:{role_env['P2P_FLOWER_PORT']}"
    assert httpx.get(f"{base}/api/workers", timeout=10).status_code == 401
    assert httpx.get(f"{base}/api/workers", auth=("ops", "secret"), timeout=10).status_code == 200


def test_given_the_language_role_then_the_worker_starts_and_passes_the_image_health_check(
    role_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, processes: list[subprocess.Popen[bytes]]
) -> None:
    processes.append(start("language", role_env, monkeypatch))
    wait_healthy("language", processes[0], timeout_s=120.0)


def test_given_a_ready_worker_when_kubernetes_sends_sigterm_then_it_soft_shuts_down_and_exits(
    role_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, processes: list[subprocess.Popen[bytes]]
) -> None:
    """REMAP_SIGTERM=SIGQUIT (set by the images and the manifests): SIGTERM starts Celery's bounded soft shutdown."""
    worker = start("language", role_env, monkeypatch)
    processes.append(worker)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(
        line.decode(errors="replace") for line in worker.stderr or []), daemon=True)
    reader.start()
    deadline = time.monotonic() + 120
    while not any(" ready." in line for line in lines):
        assert worker.poll() is None and time.monotonic() < deadline, "".join(lines)[-2000:]
        time.sleep(0.2)
    worker.send_signal(signal.SIGTERM)
    worker.wait(timeout=SOFT_SHUTDOWN_S + 30)
    reader.join(timeout=10)
    log = "".join(lines)
    assert "Initiating Soft Shutdown" in log, log[-1500:]
    assert worker.returncode == 0, log[-1500:]
