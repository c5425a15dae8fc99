"""The validators cannot silently pass: each is fed a deliberately broken manifest, Dockerfile, lock or compose
file and must name the fault."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from tests.deploy.conftest import find
from tests.deploy.docker_checks import (
    DOCKER_DIR,
    compose_config,
    compose_reference_problems,
    dockerfile_policy_problems,
    lock_problems,
)
from tests.deploy.drift import compose_drift_problems
from tests.deploy.kustomize import Obj
from tests.deploy.validators import hadolint_problems, keda_problems, kubernetes_problems, reference_problems

BROKEN_DOCKERFILE = """\
FROM ubuntu:latest
WORKDIR app
RUN cd /tmp && apt-get update && apt-get install -y curl
RUN pip install torch
CMD ["python", "-m", "http.server"]
"""


@pytest.fixture()
def dev(rendered: dict[str, list[Obj]]) -> list[Obj]:
    return copy.deepcopy(rendered["dev"])


def deployment_spec(objects: list[Obj], name: str) -> Obj:
    spec: Obj = find(objects, "Deployment", name)["spec"]
    return spec


def test_given_an_unknown_deployment_field_then_strict_validation_fails(dev: list[Obj]) -> None:
    deployment_spec(dev, "p2p-api")["replica"] = 2
    assert any("p2p-api" in p and "replica" in p for p in kubernetes_problems(dev))


def test_given_a_wrong_type_then_validation_fails(dev: list[Obj]) -> None:
    deployment_spec(dev, "p2p-api")["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = "http"
    assert any("containerPort" in p for p in kubernetes_problems(dev))


def test_given_a_kind_without_a_schema_then_validation_fails() -> None:
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    assert kubernetes_problems([widget]) == ["Widget/w: no Kubernetes 1.32.0 schema for example.com/v1"]


def test_given_a_misspelt_scaled_object_field_then_the_keda_check_fails(dev: list[Obj]) -> None:
    scaled = find(dev, "ScaledObject", "p2p-language")
    scaled["spec"]["minReplicas"] = scaled["spec"].pop("minReplicaCount")
    assert keda_problems(scaled) == ["spec.minReplicas: unknown field"]


def test_given_a_wrongly_typed_scaled_object_then_the_keda_check_fails(dev: list[Obj]) -> None:
    scaled = find(dev, "ScaledObject", "p2p-vision")
    scaled["spec"]["minReplicaCount"] = "one"
    assert any(p.startswith("spec.minReplicaCount") for p in keda_problems(scaled))


def test_given_a_bad_redis_trigger_then_the_keda_check_fails(dev: list[Obj]) -> None:
    trigger = find(dev, "ScaledObject", "p2p-vision")["spec"]["triggers"][0]["metadata"]
    trigger["listname"] = trigger.pop("listName")
    trigger["listLength"] = "many"
    problems = keda_problems(find(dev, "ScaledObject", "p2p-vision"))
    assert "spec.triggers.0: redis scaler has no field 'listname'" in problems
    assert "spec.triggers.0: redis scaler needs listName" in problems
    assert "spec.triggers.0: redis scaler listLength must be a whole number, got 'many'" in problems


def test_given_dangling_references_then_the_reference_check_names_them(dev: list[Obj]) -> None:
    find(dev, "ScaledObject", "p2p-vision")["spec"]["scaleTargetRef"]["name"] = "p2p-vison"
    pod = deployment_spec(dev, "p2p-language")["template"]["spec"]
    pod["containers"][0]["envFrom"][1]["secretRef"]["name"] = "p2p-secret"
    deployment_spec(dev, "p2p-api")["template"]["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"] = "blobs"
    problems = reference_problems(dev)
    assert "ScaledObject/p2p-vision: scale target Deployment p2p-vison missing" in problems
    assert "Deployment/p2p-language: Secret p2p-secret missing" in problems
    assert "Deployment/p2p-api: PersistentVolumeClaim blobs missing" in problems


def test_given_a_broken_dockerfile_then_hadolint_reports_it(tmp_path: Path) -> None:
    dockerfile = tmp_path / "broken.Dockerfile"
    dockerfile.write_text(BROKEN_DOCKERFILE)
    problems = hadolint_problems(dockerfile)
    codes = {problem.split()[1] for problem in problems}
    assert {"DL3007", "DL3000", "DL3003", "DL3013", "DL3042"} <= codes
    assert any(" DL3000 error:" in problem for problem in problems)


def test_given_a_broken_dockerfile_then_the_policy_check_reports_it() -> None:
    problems = dockerfile_policy_problems(BROKEN_DOCKERFILE)
    assert "stage 0: base image 'ubuntu:latest' is not pinned to a version tag" in problems
    assert "stage 0: installs training-only package torch" in problems
    assert "stage 0: runs as root (no non-root USER)" in problems
    assert "stage 0: has no HEALTHCHECK" in problems
    assert "stage 0: has no ENTRYPOINT" in problems


def test_given_a_lock_missing_a_dependency_then_the_lock_check_reports_it(tmp_path: Path) -> None:
    lock = tmp_path / "requirements.txt"
    lines = (DOCKER_DIR / "requirements-cpu.txt").read_text().split("\n")
    start = next(i for i, line in enumerate(lines) if line.startswith("fastapi=="))
    end = next(i for i in range(start + 1, len(lines)) if lines[i] and not lines[i].startswith(" "))
    lock.write_text("\n".join(lines[:start] + lines[end:]) + "torch==2.14.1 \\\n    --hash=sha256:00\n")
    problems = lock_problems(lock, ["fastapi>=0.110", "celery[redis]>=5.4"])
    assert "requirements.txt: fastapi is not pinned (run docker/lock.sh)" in problems
    assert "requirements.txt: pins training-only torch" in problems


def write_compose(tmp_path: Path, document: Obj) -> Path:
    path = tmp_path / "compose.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def compose_document() -> Obj:
    document: Obj = yaml.safe_load((DOCKER_DIR / "compose.yaml").read_text())
    for service in document["services"].values():
        if "build" in service:
            service["build"]["context"] = str(DOCKER_DIR.parent)
    return document


def test_given_a_compose_dependency_on_a_missing_service_then_compose_refuses(tmp_path: Path) -> None:
    document = compose_document()
    document["services"]["api"]["depends_on"]["cache"] = {"condition": "service_started"}
    with pytest.raises(RuntimeError, match="cache"):
        compose_config([write_compose(tmp_path, document)], DOCKER_DIR / "env.example")


def test_given_an_unknown_compose_key_then_compose_refuses(tmp_path: Path) -> None:
    document = compose_document()
    document["services"]["vision"]["gpus_please"] = 1
    with pytest.raises(RuntimeError, match="gpus_please"):
        compose_config([write_compose(tmp_path, document)], DOCKER_DIR / "env.example")


def test_given_a_missing_stage_or_unpinned_image_then_the_reference_check_names_them(tmp_path: Path) -> None:
    document = compose_document()
    document["services"]["llm"]["build"]["target"] = "llama"
    document["services"]["redis"]["image"] = "redis"
    config = compose_config([write_compose(tmp_path, document)], DOCKER_DIR / "env.example")
    problems = compose_reference_problems(config)
    assert "llm: cpu.Dockerfile has no stage 'llama'" in problems
    assert "redis: image 'redis' is neither built here nor pinned" in problems


def test_given_a_drifted_compose_file_then_the_drift_check_names_it(tmp_path: Path) -> None:
    document = compose_document()
    document["services"]["api"]["environment"] = {"P2P_API_PORT": "9000", "P2P_API_PROT": "9000"}
    document["services"]["vision"]["stop_grace_period"] = "30s"
    document["services"]["language"]["environment"] = {"P2P_BATCH_SIZE": "0"}
    config = compose_config([write_compose(tmp_path, document)], DOCKER_DIR / "env.example")
    problems = compose_drift_problems(config)
    assert "compose service api: P2P_API_PROT is not a Settings field" in problems
    assert "compose service api: publishes 8000 but the settings say 9000" in problems
    assert "compose service vision: stop_grace_period 30s <= 90.05s" in problems
    assert any(p.startswith("compose service language: settings invalid") for p in problems)
