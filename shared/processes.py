"""Stopping child processes the same way everywhere: SIGTERM first (a worker or server finishes what it holds), then
SIGKILL for whatever is still running after the grace, so a stop can never hang."""

from __future__ import annotations

import subprocess
from collections.abc import Iterable
from typing import Any


def stop_processes(processes: Iterable[subprocess.Popen[Any]], grace_s: float) -> None:
    """Terminate every process that still runs, then wait up to `grace_s` for each and kill the ones that stay."""
    alive = [process for process in processes if process.poll() is None]
    for process in alive:
        process.terminate()
    for process in alive:
        try:
            process.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
