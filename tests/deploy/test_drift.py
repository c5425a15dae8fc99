"""No drift: the P2P_* names, queues, ports, broker address and shutdown timing in k8s/ and docker/ agree with
shared/settings.py, the Celery app's routing, and the entrypoint's roles."""

from __future__ import annotations

import copy
import re
import tomllib
from urllib.parse import urlsplit

import pytest
import yaml

from shared.settings import LANGUAGE_QUEUE, VISION_QUEUE, Settings
from tests.deploy.conftest import EXTERNAL_SECRET_EXAMPLES, K8S, OVERLAYS, SECRET_NAME, find, read_env_file
from tests.deploy.docker_checks import DOCKER_DIR, compose_config
from tests.deploy.drift import (
    compose_drift_problems,
    manifest_drift_problems,
    settings_env_names,
    settings_from_env,
    unknown_env_problems,
)
from tests.deploy.kustomize import Obj, render
from tests.deploy.validators import REPO_ROOT, containers

COMPOSE = DOCKER_DIR / "compose.yaml"
ENV_EXAMPLE = DOCKER_DIR / "env.example"


def project_version() -> str:
    with (REPO_ROOT / "pyproject.toml").open("rb") as handle:
        return str(tomllib.load(handle)["project"]["version"])


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_given_an_overlay_then_names_queues_ports_and_grace_periods_match_the_settings(
    rendered: dict[str, list[Obj]], overlay: str
) -> None:
    assert manifest_drift_problems(rendered[overlay]) == []


def test_given_the_default_queues_then_the_scalers_watch_exactly_them(rendered: dict[str, list[Obj]]) -> None:
    for objects in rendered.values():
        lists = {o["metadata"]["name"]: o["spec"]["triggers"][0]["metadata"]["listName"]
                 for o in objects if o["kind"] == "ScaledObject"}
        assert lists == {"p2p-vision": VISION_QUEUE, "p2p-language": LANGUAGE_QUEUE}
        config = find(objects, "ConfigMap", "p2p-config")["data"]
        assert (config["P2P_VISION_QUEUE"], config["P2P_LANGUAGE_QUEUE"]) == (VISION_QUEUE, LANGUAGE_QUEUE)


def test_given_the_compose_stack_then_names_ports_and_grace_periods_match_the_settings() -> None:
    for files in ([COMPOSE], [COMPOSE, DOCKER_DIR / "compose.cpu.yaml"]):
        assert compose_drift_problems(compose_config(files, ENV_EXAMPLE)) == []


def test_given_env_example_files_then_every_p2p_name_is_a_settings_field() -> None:
    for path in [ENV_EXAMPLE, *EXTERNAL_SECRET_EXAMPLES.values()]:
        assert unknown_env_problems(set(read_env_file(path)), path.name) == []
    assert "P2P_BROKER_URL" in settings_env_names()


def test_given_compose_interpolation_then_every_p2p_variable_is_a_settings_field() -> None:
    text = COMPOSE.read_text()
    names = set(re.findall(r"\$\{(P2P_[A-Z0-9_]+)", text))
    assert names and unknown_env_problems(names, COMPOSE.name) == []


def test_given_out_of_band_secrets_then_they_carry_the_same_keys_as_the_dev_secret() -> None:
    dev_secret = find(render(K8S / "overlays" / "dev"), "Secret", SECRET_NAME)
    for path in EXTERNAL_SECRET_EXAMPLES.values():
        assert set(read_env_file(path)) == set(dev_secret["data"]), path


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_given_our_images_then_their_tag_is_the_project_version(rendered: dict[str, list[Obj]], overlay: str) -> None:
    tags = {c["image"].rpartition(":")[2] for o in rendered[overlay] for c in containers(o)
            if "pixels2posts-" in c["image"]}
    assert tags == {project_version()}
    compose = yaml.safe_load(COMPOSE.read_text())
    images = [s["image"] for s in compose["services"].values() if "pixels2posts-" in s.get("image", "")]
    assert images and all(image.endswith(f":${{IMAGE_TAG:-{project_version()}}}") for image in images)


def test_given_the_llm_service_then_it_is_where_the_language_pool_looks_for_it(rendered: dict[str, list[Obj]]) -> None:
    for objects in rendered.values():
        url = urlsplit(find(objects, "ConfigMap", "p2p-config")["data"]["P2P_LLM_BASE_URL"])
        service = find(objects, "Service", str(url.hostname))
        assert [p["port"] for p in service["spec"]["ports"]] == [url.port]


def test_given_the_defaults_then_the_documented_ports_are_the_settings_ports() -> None:
    defaults = Settings.model_fields
    assert (defaults["api_port"].default, defaults["flower_port"].default, defaults["metrics_port"].default) == (
        8000, 5555, 9100)
    docs = (REPO_ROOT / "docs" / "deploy.md").read_text()
    for port in ("8000", "5555", "9100", "8081"):
        assert port in docs


def test_given_a_drifted_manifest_then_the_drift_check_names_it(rendered: dict[str, list[Obj]]) -> None:
    objects = copy.deepcopy(rendered["dev"])
    find(objects, "ConfigMap", "p2p-config")["data"]["P2P_VISON_QUEUE"] = "vision"
    find(objects, "ScaledObject", "p2p-language")["spec"]["triggers"][0]["metadata"]["listName"] = "captions"
    api = find(objects, "Deployment", "p2p-api")["spec"]["template"]["spec"]["containers"][0]
    api["ports"][0]["containerPort"] = 8080
    vision = find(objects, "Deployment", "p2p-vision")["spec"]["template"]["spec"]
    vision["terminationGracePeriodSeconds"] = 30
    problems = "\n".join(manifest_drift_problems(objects))
    assert "P2P_VISON_QUEUE is not a Settings field" in problems
    assert "listName 'captions' but language tasks go to 'language'" in problems
    assert "containerPort [8080] but the settings say 8000" in problems
    assert "terminationGracePeriodSeconds 30" in problems


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_given_the_batch_settings_then_the_scaling_targets_follow_them(
    rendered: dict[str, list[Obj]], overlay: str
) -> None:
    """One vision replica per 2 batches waiting, one language replica per 4 x its concurrency (docs/deploy.md)."""
    settings = settings_from_env(find(rendered[overlay], "ConfigMap", "p2p-config")["data"])
    vision = find(rendered[overlay], "ScaledObject", "p2p-vision")["spec"]["triggers"][0]["metadata"]
    language = find(rendered[overlay], "ScaledObject", "p2p-language")["spec"]["triggers"][0]["metadata"]
    assert int(vision["listLength"]) == 2 * settings.batch_size
    assert int(language["listLength"]) == 4 * settings.language_concurrency
