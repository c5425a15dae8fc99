"""The Dockerfiles: hadolint-clean, non-root with health checks and pinned bases, installing hashed locks that pin
every runtime dependency and nothing of the train extra; the build context holds what they COPY."""

from __future__ import annotations

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
    build_context,
    dockerfile_policy_problems,
    dockerignore_rules,
    in_build_context,
    lock_pins,
    lock_problems,
    parse_dockerfile,
)
from tests.deploy.validators import REPO_ROOT, hadolint_problems
from tests.support.imports import imports_of

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
    # the CUDA major of the image is the one the locked onnxruntime-gpu was built for: 1.31 on PyPI is the CUDA 13
    # build (its CUDA provider needs libcublas.so.13); on a CUDA 12 image the provider cannot load
    locked = re.search(r"^onnxruntime-gpu==(\d+)\.(\d+)", (DOCKER_DIR / "requirements-gpu.txt").read_text(), re.M)
    assert locked is not None and (int(locked[1]), int(locked[2])) >= (1, 31)
    assert re.fullmatch(r"nvidia/cuda:13\.\d+\.\d+-cudnn-runtime-ubuntu\d\d\.04", args["CUDA_IMAGE"])
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
    """The context paths a Dockerfile's COPY instructions name (not those copied from another stage)."""
    _, stages = parse_dockerfile(dockerfile.read_text())
    sources: set[str] = set()
    for stage in stages:
        for keyword, rest in stage.instructions:
            words = [w for w in rest.split() if not w.startswith("--")]
            if keyword == "COPY" and "--from=" not in rest:
                sources.update(w.rstrip("/") for w in words[:-1])
    return sources


@pytest.fixture(scope="module")
def context() -> list[str]:
    return build_context()


def test_given_a_clean_checkout_then_the_build_context_holds_the_project_and_nothing_else(context: list[str]) -> None:
    for needed in ("pyproject.toml", "shared/settings.py", "workers/celery_app.py", "producer/api.py",
                   "pixels2posts/cli/__init__.py", "docker/entrypoint.py", "docker/healthcheck.py",
                   *(f"docker/{lock}" for lock in LOCKS)):
        assert needed in context, needed
    tops = {path.split("/")[0] for path in context}
    assert tops <= {"pyproject.toml", "LICENSE", "README.md", "shared", "workers", "producer", "pixels2posts",
                    "models", "docker"}
    assert not [path for path in context if "__pycache__" in path or path.endswith((".pt", ".pth"))]


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_given_the_build_context_then_every_copied_path_is_in_it(dockerfile: Path, context: list[str]) -> None:
    for source in copied_sources(dockerfile) - {"."}:
        assert any(path == source or path.startswith(source + "/") for path in context), source


def test_given_the_committed_models_then_every_onnx_file_is_baked_into_the_images(context: list[str]) -> None:
    tracked = subprocess.run(["git", "ls-files", "models"], cwd=REPO_ROOT, capture_output=True, text=True,
                             check=True, timeout=30).stdout.split()
    onnx = [path for path in tracked if path.endswith(".onnx")]
    assert set(onnx) <= set(context)
    for dockerfile in DOCKERFILES:
        assert "COPY --from=builder /src/models/ /opt/p2p/models/" in dockerfile.read_text()


@pytest.mark.slow
def test_given_only_the_build_context_then_the_project_wheel_builds(tmp_path: Path, context: list[str]) -> None:
    """What `pip install --no-deps /src` does in the images, on exactly the files a clean checkout sends."""
    source = tmp_path / "src"
    for path in context:
        if path.startswith("models/"):
            continue  # large, and not part of the wheel
        (source / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO_ROOT / path, source / path)
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path / "w"),
         str(source)], capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    [wheel] = (tmp_path / "w").glob("pixels2posts-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for package in ("shared/settings.py", "workers/celery_app.py", "producer/api.py", "pixels2posts/cli/__init__.py"):
        assert package in names


RUNTIME_PACKAGES = ["shared", "workers", "producer", "pixels2posts"]
# the inference engines the vision stage imports lazily, by the distribution each image installs
ENGINES = {"requirements-cpu.txt": {"onnxruntime", "faiss-cpu"},
           "requirements-gpu.txt": {"onnxruntime-gpu", "faiss-gpu-cu12"}}


# the embedded LLM server's own modules: they run only in the `llm` image (requirements-llm.txt)
LLM_SERVER_MODULES = frozenset({"workers/language/batched_llm.py", "workers/language/batched_engine.py",
                                "workers/language/batched_sampling.py"})


def module_level_imports(packages: list[str], llm_server: bool = False) -> dict[str, str]:
    """Top-level third-party modules imported at module level by the runtime packages -> one file importing it
    (`llm_server`: by the LLM server's modules only; else by every other module)."""
    found: dict[str, str] = {}
    sources = sorted(source for package in packages for source in (REPO_ROOT / package).rglob("*.py")
                     if (str(source.relative_to(REPO_ROOT)) in LLM_SERVER_MODULES) == llm_server)
    for source, statements in imports_of(sources).items():
        for statement in statements:
            if not statement.module_level or statement.level or not statement.module:
                continue
            top = statement.module.split(".")[0]
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


def test_given_the_llm_server_modules_then_the_llm_image_installs_what_they_import() -> None:
    distributions = packages_distributions()
    pins = lock_pins(DOCKER_DIR / "requirements-llm.txt")
    imported = module_level_imports(RUNTIME_PACKAGES, llm_server=True)
    missing = {module: where for module, where in imported.items()
               if not {canonicalize_name(d) for d in distributions.get(module, [module])} & pins.keys()}
    assert "llama_cpp" in imported and missing == {}


@pytest.mark.parametrize("path, sent", [
    ("shared/settings.py", True), ("models/detector/x.onnx", True), ("docker/entrypoint.py", True),
    ("tests/conftest.py", False), ("training/detector/train.py", False), ("shared/__pycache__/a.pyc", False),
    ("models/detector/best.pt", False), ("docker/compose.yaml", False), (".git/config", False),
])
def test_given_the_dockerignore_rules_then_only_runtime_files_are_sent(path: str, sent: bool) -> None:
    assert in_build_context(path, dockerignore_rules()) is sent
