"""The Dockerfiles: hadolint-clean, non-root with health checks and pinned bases, installing hashed locks that pin
every runtime dependency and nothing of the train extra; the build context holds what they COPY."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

from tests.deploy.docker_checks import (
    DOCKER_DIR,
    DOCKERFILES,
    dockerfile_policy_problems,
    lock_pins,
    lock_problems,
    parse_dockerfile,
)
from tests.deploy.validators import REPO_ROOT, hadolint_problems

# lock file -> the extras it resolves (docker/lock.sh)
LOCKS = {"requirements-cpu.txt": ["cpu", "postgres"], "requirements-gpu.txt": ["gpu", "postgres"],
         "requirements-llm.txt": ["cpu", "postgres", "llm"]}


def requirements(extras: list[str]) -> list[str]:
    with (REPO_ROOT / "pyproject.toml").open("rb") as handle:
        project = tomllib.load(handle)["project"]
    return [*project["dependencies"], *(r for e in extras for r in project["optional-dependencies"][e])]


def test_given_the_docker_folder_then_there_are_the_cpu_and_vision_images() -> None:
    assert {p.name for p in DOCKERFILES} == {"cpu.Dockerfile", "vision.Dockerfile"}


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_given_a_dockerfile_then_hadolint_finds_no_error_or_warning(dockerfile: Path) -> None:
    assert hadolint_problems(dockerfile) == []


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_given_a_dockerfile_then_it_is_multi_stage_non_root_pinned_and_health_checked(dockerfile: Path) -> None:
    text = dockerfile.read_text()
    assert dockerfile_policy_problems(text) == []
    _, stages = parse_dockerfile(text)
    assert len(stages) >= 2
    assert "torch" not in text.replace("no torch", "").replace("No torch", "")


def test_given_the_vision_image_then_it_is_built_on_cuda_with_the_gpu_lock() -> None:
    args, stages = parse_dockerfile((DOCKER_DIR / "vision.Dockerfile").read_text())
    assert re.fullmatch(r"nvidia/cuda:12\.\d+\.\d+-cudnn-runtime-ubuntu\d\d\.04", args["CUDA_IMAGE"])
    installs = [rest for s in stages for keyword, rest in s.instructions if keyword == "RUN" and "pip install" in rest]
    assert any("requirements-gpu.txt" in rest and "--require-hashes" in rest for rest in installs)


def test_given_the_hadolint_config_then_every_ignored_rule_has_a_reason() -> None:
    lines = (REPO_ROOT / ".hadolint.yaml").read_text().splitlines()
    ignored = [i for i, line in enumerate(lines) if re.match(r"\s+- DL\d+", line)]
    assert ignored
    for index in ignored:
        assert lines[index - 1].strip().startswith("#"), lines[index]


@pytest.mark.parametrize("lock, extras", LOCKS.items())
def test_given_a_lock_then_it_pins_every_dependency_with_hashes_and_no_training_package(
    lock: str, extras: list[str]
) -> None:
    assert lock_problems(DOCKER_DIR / lock, requirements(extras)) == []


def test_given_the_cpu_and_llm_locks_then_their_shared_pins_agree() -> None:
    cpu, llm = lock_pins(DOCKER_DIR / "requirements-cpu.txt"), lock_pins(DOCKER_DIR / "requirements-llm.txt")
    assert {name: version for name, version in cpu.items() if llm.get(name) != version} == {}


def copied_sources(dockerfile: Path) -> set[str]:
    _, stages = parse_dockerfile(dockerfile.read_text())
    sources: set[str] = set()
    for stage in stages:
        for keyword, rest in stage.instructions:
            words = [w for w in rest.split() if not w.startswith("--")]
            if keyword == "COPY" and "--from=" not in rest:
                sources.update(w.rstrip("/") for w in words[:-1])
    return sources


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_given_the_build_context_then_every_copied_path_exists_and_is_not_docker_ignored(dockerfile: Path) -> None:
    ignore = (REPO_ROOT / ".dockerignore").read_text().splitlines()
    allowed = [line[1:].rstrip("/") for line in ignore if line.startswith("!")]
    for source in copied_sources(dockerfile):
        assert (REPO_ROOT / source).exists(), source
        assert any(source == a or source.startswith(a + "/") or Path(source).match(a) for a in allowed), source


@pytest.mark.slow
def test_given_only_the_copied_sources_then_the_project_wheel_builds(tmp_path: Path) -> None:
    """What `pip install --no-deps /src` does in the images, on exactly the files the Dockerfile copies."""
    context = tmp_path / "src"
    for source in copied_sources(DOCKER_DIR / "cpu.Dockerfile"):
        if source.startswith("docker/"):
            continue
        origin = REPO_ROOT / source
        if origin.is_dir():
            shutil.copytree(origin, context / source, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            (context / source).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(origin, context / source)
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path / "w"),
         str(context)], capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    [wheel] = (tmp_path / "w").glob("pixels2posts-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for package in ("shared/settings.py", "workers/celery_app.py", "producer/api.py", "pixels2posts/cli/__init__.py"):
        assert package in names


RUNTIME_PACKAGES = ["shared", "workers", "producer", "pixels2posts"]
# the inference engines the vision stage imports lazily, by the distribution each image installs
ENGINES = {"requirements-cpu.txt": {"onnxruntime", "faiss-cpu"},
           "requirements-gpu.txt": {"onnxruntime-gpu", "faiss-gpu-cu12"}}


def module_level_imports(packages: list[str]) -> dict[str, str]:
    """Top-level third-party modules imported at module level by the runtime packages -> one file importing it."""
    found: dict[str, str] = {}
    for package in packages:
        for source in (REPO_ROOT / package).rglob("*.py"):
            for node in ast.parse(source.read_text()).body:
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                    [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module else [])
                for name in names:
                    top = name.split(".")[0]
                    if top not in sys.stdlib_module_names and top not in {*RUNTIME_PACKAGES, "__future__"}:
                        found.setdefault(top, str(source.relative_to(REPO_ROOT)))
    return found


@pytest.mark.parametrize("lock", sorted(ENGINES))
def test_given_the_runtime_code_then_every_module_it_imports_is_installed_by_the_image(lock: str) -> None:
    distributions = packages_distributions()
    pins = lock_pins(DOCKER_DIR / lock)
    missing = {module: where for module, where in module_level_imports(RUNTIME_PACKAGES).items()
               if not {canonicalize_name(d) for d in distributions.get(module, [module])} & pins.keys()}
    assert missing == {}
    assert ENGINES[lock] <= pins.keys()
