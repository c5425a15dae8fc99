"""A clean, non-editable install works outside the checkout: the wheel carries the code, the bundled ONNX models,
the index, the hashtag table and the migrations; `pixels2posts evidence` runs and a vision worker starts.

The wheel is built from the checkout (no build isolation: offline) and installed with --no-deps into a fresh venv
whose only other path is the test venv's site-packages (for the dependencies). That path is added as a plain
directory, so the test venv's editable install of pixels2posts is not seen: everything of ours comes from the
wheel, which the test checks."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.processes import stop_processes
from tests.conftest import REPO_ROOT, SAMPLE_PHOTOS

pytestmark = pytest.mark.slow
OURS = ("shared", "workers", "producer", "pixels2posts", "training")


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv holding the project's wheel; returns its bin/ folder."""
    work = tmp_path_factory.mktemp("install")
    source = work / "src"  # a copy: building in the checkout would leave build/ there, and reuse stale files from it
    files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=REPO_ROOT,
                           capture_output=True, text=True, check=True, timeout=60).stdout.splitlines()
    for name in files:
        if (REPO_ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO_ROOT / name, source / name)
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
         "-w", str(work / "wheels"), str(source)],
        capture_output=True, text=True, timeout=600, check=False, cwd=work)
    assert build.returncode == 0, build.stderr[-3000:]
    [wheel] = (work / "wheels").glob("pixels2posts-*.whl")
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)  # pip from ensurepip: offline
    python = venv / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                          capture_output=True, text=True, check=True).stdout.strip()
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--no-deps", "--no-index", "-q", str(wheel)],
        capture_output=True, text=True, timeout=600, check=False, cwd=work, env=clean_env(work))
    assert install.returncode == 0, install.stderr[-3000:]
    # only now: before, pip would see the test venv's editable pixels2posts as installed already
    (Path(site) / "p2p-test-dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    return venv / "bin"


def clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """No PYTHONPATH (it would put the checkout back on the path) and no P2P_* from the caller."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("P2P_")}
    return {**env, "P2P_ORT_PROVIDERS": "cpu", "P2P_DATA_DIR": str(tmp_path / "var"), **extra}


def test_given_the_wheel_then_our_code_and_data_come_from_the_install_not_the_checkout(
    installed: Path, tmp_path: Path
) -> None:
    code = (
        "import json, importlib\n"
        f"mods = {{n: list(importlib.import_module(n).__path__)[0] for n in {OURS!r}}}\n"
        "from shared.settings import get_settings\n"
        "from shared.store.db import MIGRATIONS_DIR\n"
        "from workers.language.harrison import load_table\n"
        "s = get_settings()\n"
        "print(json.dumps({'modules': mods, 'models': str(s.models_dir), 'tags': len(load_table()),\n"
        "                  'migrations': sorted(p.name for p in MIGRATIONS_DIR.rglob('*.py'))}))\n"
    )
    done = subprocess.run([str(installed / "python"), "-c", code], capture_output=True, text=True, timeout=120,
                          cwd=tmp_path, env=clean_env(tmp_path), check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout)
    venv = installed.parent
    for name, path in found["modules"].items():
        assert Path(path).is_relative_to(venv), f"{name} imported from {path}"
    models = Path(found["models"])
    assert models.is_relative_to(venv)
    for bundled in ("detector/garments-yolov8n.onnx", "clip/image.onnx", "clip/tokenizer.json", "clip/colour.npz",
                    "index/index.faiss",
                    "index/items.jsonl", "index/manifest.json"):
        assert (models / bundled).is_file(), bundled
    assert found["tags"] == 997
    assert "0001_jobs.py" in found["migrations"] and "env.py" in found["migrations"]


def test_given_the_wheel_when_evidence_runs_outside_the_checkout_then_it_prints_a_pack(
    installed: Path, tmp_path: Path
) -> None:
    photo = sorted(SAMPLE_PHOTOS.glob("*.jpg"))[0]
    done = subprocess.run([str(installed / "pixels2posts"), "evidence", "--json", str(photo)], capture_output=True,
                          text=True, timeout=300, cwd=tmp_path, env=clean_env(tmp_path), check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    pack = json.loads(done.stdout.strip().splitlines()[-1])
    assert pack["image"]["width"] > 0 and "detector" in " ".join(pack["models"])


@pytest.fixture()
def worker_log(installed: Path, tmp_path: Path, redis_url: str) -> Iterator[list[str]]:
    env = clean_env(tmp_path, P2P_BROKER_URL=redis_url, P2P_DATABASE_URL=f"sqlite:///{tmp_path / 'jobs.db'}",
                    P2P_BLOB_DIR=str(tmp_path / "blobs"), P2P_METRICS_PORT="0", P2P_ORT_INTRA_THREADS="1")
    worker = subprocess.Popen([str(installed / "pixels2posts"), "worker", "vision", "-c", "2"], cwd=tmp_path,
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(
        line.decode(errors="replace") for line in worker.stderr or []), daemon=True)
    reader.start()
    try:
        yield lines
        assert worker.poll() is None, "".join(lines)[-3000:]
    finally:
        stop_processes([worker], grace_s=60)


def test_given_the_wheel_then_a_vision_worker_loads_the_bundled_models_and_gets_ready(worker_log: list[str]) -> None:
    deadline = time.monotonic() + 240
    while not any(" ready." in line for line in worker_log):
        assert time.monotonic() < deadline, "".join(worker_log)[-3000:]
        time.sleep(0.5)
