"""Fault-test helpers: the real API and workers as separate processes (killable by signal), and waiting."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx


def start(argv: list[str], env: dict[str, str], log: Path, **extra_env: str) -> subprocess.Popen[bytes]:
    """`python -m pixels2posts ARGV` in its own session (so a kill reaches its children too)."""
    with log.open("ab") as handle:
        return subprocess.Popen([sys.executable, "-m", "pixels2posts", *argv], env={**env, **extra_env},
                                stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)


def kill(process: subprocess.Popen[bytes], sig: signal.Signals = signal.SIGKILL) -> None:
    if process.poll() is None:
        os.killpg(process.pid, sig)
    process.wait(timeout=90)


@contextmanager
def running(*processes: subprocess.Popen[bytes]) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Terminate every process (and any appended later) on the way out."""
    alive = list(processes)
    try:
        yield alive
    finally:
        for process in alive:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in alive:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                kill(process)


def wait_for(condition: Callable[[], bool], timeout_s: float, what: str, poll_s: float = 0.2) -> float:
    """Seconds until `condition()` held; AssertionError naming `what` after `timeout_s`."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout_s:
            raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}")
        time.sleep(poll_s)
    return time.monotonic() - started


def api_up(base_url: str) -> bool:
    try:
        return httpx.get(f"{base_url}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def wait_ready(process: subprocess.Popen[bytes], log: Path, timeout_s: float = 180) -> float:
    """Seconds until the Celery worker writing `log` says it is ready (consuming); an AssertionError with the log's
    tail if it exits first or is not ready within `timeout_s` (a fault is injected into a running stack, not into
    one still starting)."""
    def ready() -> bool:
        text = log.read_text(errors="replace") if log.exists() else ""
        if process.poll() is not None:
            tail = "\n".join(text.splitlines()[-20:])
            raise AssertionError(f"{log.name}: the worker exited ({process.returncode}) before it was ready:\n{tail}")
        return " ready." in text

    try:
        return wait_for(ready, timeout_s, f"{log.name} to be ready")
    except AssertionError as exc:
        if "exited" in str(exc):
            raise
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:]) if log.exists() else "(no log)"
        raise AssertionError(f"{exc}\n{tail}") from None
