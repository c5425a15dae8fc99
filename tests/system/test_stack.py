"""`pixels2posts up` / `submit` / `down` as a user runs them: everything starts, Flower asks for the printed
credentials, photos get captions, and after `down` no process of the stack is left."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from pixels2posts.services import ping
from shared.ports import free_port
from tests.support import fake_openai
from tests.support.helpers import jpeg_bytes

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CLI = [sys.executable, "-m", "pixels2posts"]


@pytest.fixture()
def stack_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    state, server = fake_openai.start()
    state.responder = lambda body: fake_openai.answer(
        "A " + body["messages"][-1]["content"].split("MUST MENTION: ")[-1].strip() + ".")
    env = {key: value for key, value in os.environ.items() if not key.startswith("P2P_")}
    env.update({
        "P2P_DATA_DIR": str(tmp_path / "var"), "P2P_BLOB_DIR": str(tmp_path / "var" / "blobs"),
        "P2P_API_PORT": str(free_port()), "P2P_FLOWER_PORT": str(free_port()),
        "P2P_METRICS_PORT": str(free_port()), "P2P_LLM_BASE_URL": state.url, "P2P_LLM_MODEL": "fake-model",
    })
    yield env
    server.shutdown()
    server.server_close()


def run(args: list[str], env: dict[str, str], timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, timeout=timeout)


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def test_given_nothing_running_when_up_submit_down_then_captions_and_nothing_left(
    stack_env: dict[str, str], tmp_path: Path
) -> None:
    redis_port = free_port()
    started = run(["up", "--redis-port", str(redis_port),
                   "--vision-stage-class", "tests.support.stand_in_vision:MeanColourPipeline"], stack_env)
    run_dir = tmp_path / "var" / "run"
    pids = {p.stem: int(p.read_text()) for p in run_dir.glob("*.pid") if p.stem != f"redis-{redis_port}"}
    redis_pid = int((run_dir / f"redis-{redis_port}.pid").read_text())
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        assert set(pids) == {"vision", "language", "api", "flower"}
        flower_auth = re.search(r"user:password (\S+):(\S+)", started.stdout)
        assert flower_auth, started.stdout
        flower = f"http://127.0.0.1:{stack_env['P2P_FLOWER_PORT']}/api/workers"
        assert httpx.get(flower).status_code == 401
        assert httpx.get(flower, auth=(flower_auth[1], flower_auth[2])).status_code == 200
        assert (tmp_path / "var" / "logs" / "api.log").exists()
        # no P2P_API_KEYS in the environment: `up` generated a key, printed it, and the API admits only that key
        api_key = (run_dir / "api-key").read_text().strip()
        assert len(api_key) >= 32 and f"API key  {api_key}" in started.stdout
        jobs = f"http://127.0.0.1:{stack_env['P2P_API_PORT']}/v1/jobs/00000000-0000-0000-0000-000000000000"
        assert httpx.get(jobs).status_code == 401
        assert httpx.get(jobs, headers={"X-API-Key": api_key + "x"}).status_code == 401
        assert httpx.get(jobs, headers={"X-API-Key": api_key}).status_code == 404

        photos = []
        for seed in range(5):
            photos.append(tmp_path / f"p{seed}.jpg")
            photos[-1].write_bytes(jpeg_bytes(seed))
        submitted = run(["submit", "--wait", "--json", "--timeout", "120", *map(str, photos)], stack_env)
        assert submitted.returncode == 0, submitted.stdout + submitted.stderr
        results = [json.loads(line) for line in submitted.stdout.splitlines()]
        assert [r["status"] for r in results] == ["succeeded"] * 5
        captions = [r["result"]["caption"] for r in results]
        assert all("dress" in caption for caption in captions), captions
        assert (tmp_path / "var" / "pixels2posts.db").exists()  # the embedded default store
    finally:
        stopped = run(["down"], stack_env)
    assert stopped.returncode == 0, stopped.stderr
    assert "redis" in stopped.stdout
    assert not [name for name, pid in pids.items() if alive(pid)]
    assert not alive(redis_pid) and not ping(redis_port)
    assert not list(run_dir.glob("*.pid"))
    assert run(["down"], stack_env).stdout.strip() == "stopped: nothing was running"
