"""docker/entrypoint.py and docker/healthcheck.py: each role runs the right command with the settings' ports, Flower
never runs without auth, and the health check answers from a real HTTP server."""

from __future__ import annotations

import importlib.util
import os
import sqlite3
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType

import pytest

from pixels2posts.cli import COMMANDS
from shared.ports import free_port
from tests.deploy.docker_checks import DOCKER_DIR


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"docker_{name}", DOCKER_DIR / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


entrypoint = load("entrypoint")
healthcheck = load("healthcheck")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("P2P_"):
            monkeypatch.delenv(name)


def test_given_the_worker_and_api_roles_then_they_run_existing_cli_commands(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("P2P_API_PORT", "8123")
    monkeypatch.setenv("P2P_API_HOST", "0.0.0.0")
    assert entrypoint.command_for(["api"]) == ("api", ["pixels2posts", "api", "--host", "0.0.0.0", "--port", "8123"])
    assert entrypoint.command_for(["vision"])[1] == ["pixels2posts", "worker", "vision"]
    assert entrypoint.command_for(["language", "-c", "4"])[1] == ["pixels2posts", "worker", "language", "-c", "4"]
    assert {"api", "worker"} <= set(COMMANDS)


def test_given_no_arguments_then_the_api_runs_and_unknown_words_run_as_commands() -> None:
    assert entrypoint.command_for([])[0] == "api"
    assert entrypoint.command_for(["pixels2posts", "doctor"]) == ("command", ["pixels2posts", "doctor"])


def test_given_flower_without_auth_then_it_refuses(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(entrypoint.EntrypointError, match="P2P_FLOWER_BASIC_AUTH"):
        entrypoint.command_for(["flower"])
    monkeypatch.setenv("P2P_FLOWER_BASIC_AUTH", "ops:secret")
    monkeypatch.setenv("P2P_FLOWER_PORT", "5600")
    _, command = entrypoint.command_for(["flower"])
    assert command[:4] == ["celery", "-A", "workers.celery_app", "flower"]
    assert {"--port=5600", "--basic-auth=ops:secret", "--address=0.0.0.0"} <= set(command)


@pytest.mark.parametrize(("server", "slots", "module"), [
    ("batched", "0", "workers.language.batched_llm"),       # the default: one continuous-batching process
    ("processes", "0", "workers.language.local_llm_pool"),  # two llama-cpp-python servers behind the router
    ("processes", "1", "llama_cpp.server"),
])
def test_given_the_llm_role_then_the_server_listens_on_all_interfaces_at_the_configured_port(
    monkeypatch: pytest.MonkeyPatch, server: str, slots: str, module: str
) -> None:
    pytest.importorskip("workers.language.local_llm")
    monkeypatch.setenv("P2P_LLM_BASE_URL", "http://llm:8099/v1")
    monkeypatch.setenv("P2P_LLM_SERVER", server)
    monkeypatch.setenv("P2P_LLM_PARALLEL_SLOTS", slots)
    _, command = entrypoint.command_for(["llm"])
    assert command[1:3] == ["-m", module]
    assert command[command.index("--host") + 1] == "0.0.0.0"
    assert command[command.index("--port") + 1] == "8099"


def test_given_the_migrate_role_then_it_upgrades_the_configured_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = tmp_path / "jobs.db"
    monkeypatch.setenv("P2P_DATABASE_URL", f"sqlite:///{database}")
    _, command = entrypoint.command_for(["migrate"])
    subprocess.run(command, check=True, timeout=120)
    tables = {row[0] for row in sqlite3.connect(database).execute("select name from sqlite_master")}
    assert "alembic_version" in tables


class Ok(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path in ("/healthz", "/metrics") else 404)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def server() -> Iterator[int]:
    httpd = ThreadingHTTPServer(("127.0.0.1", free_port()), Ok)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


def test_given_a_live_api_then_the_health_check_passes_and_a_dead_one_fails(
    server: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("P2P_API_PORT", str(server))
    assert healthcheck.main(["api"]) == 0
    monkeypatch.setenv("P2P_API_PORT", str(free_port()))
    assert healthcheck.main(["api"]) == 1


def test_given_the_recorded_role_then_the_health_check_probes_that_role(
    server: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    role_file = tmp_path / "role"
    role_file.write_text("vision")
    monkeypatch.setattr(healthcheck, "ROLE_FILE", role_file)
    monkeypatch.setenv("P2P_METRICS_PORT", str(server))
    assert healthcheck.main([]) == 0
    role_file.write_text("flower")  # our server has no /healthcheck: 404 is unhealthy
    monkeypatch.setenv("P2P_FLOWER_PORT", str(server))
    assert healthcheck.main([]) == 1
