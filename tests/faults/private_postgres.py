"""A private PostgreSQL for the database-restart fault test: initdb in a temp dir, a free port, started and
stopped (and crashed) by the test itself. The shared server on 5432 is never touched."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass
class PrivatePostgres:
    data_dir: Path
    port: int
    user_argv: list[str]  # how to run the server binaries (as the postgres user when we are root)

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _ctl(self, *args: str) -> None:
        subprocess.run([*self.user_argv, _binary("pg_ctl"), "-D", str(self.data_dir), "-w", "-t", "60", *args],
                       check=True, capture_output=True)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.data_dir} -c listen_addresses=127.0.0.1 -c fsync=on"
        self._ctl("-o", options, "-l", str(self.data_dir / "server.log"), "start")

    def crash(self) -> None:
        """Stop without a clean shutdown (crash recovery on the next start)."""
        self._ctl("-m", "immediate", "stop")

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self._ctl("-m", "fast", "stop")


def _binary(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed")
    return found


def create(base: Path, port: int) -> PrivatePostgres:
    data_dir = base / "pgdata"
    user_argv: list[str] = []
    if os.geteuid() == 0:  # initdb refuses root: run the server binaries as the postgres user
        if shutil.which("runuser") is None:
            pytest.skip("running as root without runuser: cannot start a private PostgreSQL")
        user_argv = ["runuser", "-u", "postgres", "--"]
        base.chmod(0o777)
    subprocess.run([*user_argv, _binary("initdb"), "-D", str(data_dir), "-U", "postgres", "--auth=trust",
                    "--no-sync"], check=True, capture_output=True)
    server = PrivatePostgres(data_dir, port, user_argv)
    server.start()
    deadline = time.monotonic() + 30
    while not (data_dir / "postmaster.pid").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    return server
