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
