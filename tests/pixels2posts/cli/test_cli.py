"""The front door: help, doctor, and runtime imports that stay free of training frameworks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from pixels2posts.services import start_redis, stop_redis
from shared.ports import free_port

CLI = [sys.executable, "-m", "pixels2posts"]


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, env={**os.environ, **(env or {})})


def test_help_lists_the_commands() -> None:
    result = run_cli("--help")
    assert result.returncode == 0, result.stderr
    for command in ("evidence", "caption", "doctor", "models", "index", "up", "down", "worker", "submit"):
        assert command in result.stdout


def test_given_nothing_running_when_doctor_runs_then_it_names_what_is_missing_and_the_fix(tmp_path: Path) -> None:
    env = {
        "P2P_BROKER_URL": f"redis://127.0.0.1:{free_port()}/0",
        "P2P_LLM_BASE_URL": f"http://127.0.0.1:{free_port()}/v1",
        "P2P_DATABASE_URL": f"sqlite:///{tmp_path}/absent/dir/db.sqlite",
        "P2P_MODELS_DIR": str(tmp_path / "no-models"),
    }
    result = run_cli("doctor", env=env)
    assert result.returncode != 0
    for name in ("redis broker", "llm endpoint", "result store", "detector"):
        line = next(line for line in result.stdout.splitlines() if name in line)
        assert line.startswith("MISSING"), line
    assert "fix: run `pixels2posts up`" in result.stdout


def test_given_a_live_redis_and_database_when_doctor_runs_then_they_pass(tmp_path: Path) -> None:
    port = free_port()
    start_redis(port, tmp_path)
    try:
        env = {"P2P_BROKER_URL": f"redis://127.0.0.1:{port}/0", "P2P_DATABASE_URL": f"sqlite:///{tmp_path}/db"}
        result = run_cli("doctor", env=env)
    finally:
        stop_redis(port, tmp_path)
    assert next(line for line in result.stdout.splitlines() if "redis broker" in line).startswith("ok")
    assert next(line for line in result.stdout.splitlines() if "result store" in line).startswith("ok")


def test_runtime_packages_do_not_import_training_frameworks() -> None:
    code = (
        "import sys, json, importlib\n"
        "import shared, workers, producer, pixels2posts.cli\n"
        "import pkgutil\n"
        "for pkg in (shared, workers, producer):\n"
        "    for info in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + '.'):\n"
        "        if '.migrations' in info.name: continue\n"
        "        importlib.import_module(info.name)\n"
        "heavy = ('torch', 'ultralytics', 'open_clip', 'torchvision')\n"
        "print(json.dumps(sorted(m for m in heavy if m in sys.modules)))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []


def test_given_no_team_data_folder_then_the_commands_that_read_it_ask_for_it_instead_of_guessing() -> None:
    """Nothing defaults to ../shared: in an installed package that path would point beside site-packages."""
    from click.testing import CliRunner

    from pixels2posts.cli import cli

    for args, missing in ((["eval", "table"], "--data"), (["eval", "testsets"], "--data"),
                          (["eval", "captions"], "--catalog"), (["models", "train-clip"], "--catalog"),
                          (["models", "eval-attributes"], "--catalog")):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 2, (args, result.output)
        assert missing in result.output, (args, result.output)
