"""One source of truth: the P2P_* names, queue names, ports and shutdown timing in k8s/ and docker/ must agree
with shared/settings.py and the Celery app. Each check returns a list of problems (empty: no drift)."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import urlsplit

from pydantic import ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from shared.celery_config import LANGUAGE_TASK, SOFT_SHUTDOWN_S, VISION_TASK, celery_config
from shared.settings import ENV_PREFIX, Settings
from tests.deploy.validators import containers, pod_spec

Obj = dict[str, Any]

# the longest one vision batch may run (seconds): a CPU batch of 8 runs in a few seconds, a GPU batch in well
# under one; the budget leaves room for a slow first batch (cold caches) before the soft shutdown starts
BATCH_TIME_BUDGET_S = 60.0
# what a language task needs past the soft shutdown to hand its message back and exit
LANGUAGE_EXIT_MARGIN_S = 10.0
POOL_TASKS = {"vision": VISION_TASK, "language": LANGUAGE_TASK}
P2P_IMAGE_PREFIX = "pixels2posts-"


class ManifestSettings(Settings):
    """Settings from the given values only: no process environment, no .env file."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


def settings_env_names() -> set[str]:
    return {ENV_PREFIX + name.upper() for name in Settings.model_fields}


def unknown_env_problems(names: list[str] | set[str], where: str) -> list[str]:
    known = settings_env_names()
    return [f"{where}: {name} is not a Settings field" for name in sorted(names)
            if name.startswith(ENV_PREFIX) and name not in known]


def settings_from_env(env: dict[str, str]) -> Settings:
    values: dict[str, Any] = {k[len(ENV_PREFIX):].lower(): v for k, v in env.items() if k.startswith(ENV_PREFIX)}
    return ManifestSettings.model_validate(values)


def container_env(container: Obj, objects: list[Obj]) -> dict[str, str]:
    """The environment a container starts with: envFrom ConfigMaps/Secrets, then env values."""
    by_name = {(o["kind"], o["metadata"]["name"]): o for o in objects}
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            env.update(by_name.get(("ConfigMap", source["configMapRef"]["name"]), {}).get("data", {}))
        if "secretRef" in source:
            env.update(_secret_values(by_name.get(("Secret", source["secretRef"]["name"]), {})))
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = str(item["value"])
    return env


def _secret_values(secret: Obj) -> dict[str, str]:
    values = {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}
    values.update(secret.get("stringData") or {})
    return values


def p2p_containers(objects: list[Obj]) -> list[tuple[Obj, Obj]]:
    """(workload, container) for every container running one of our images."""
    return [(obj, c) for obj in objects for c in containers(obj)
            if c.get("image", "").rpartition("/")[2].startswith(P2P_IMAGE_PREFIX)]


def expected_port(role: str, settings: Settings) -> int | None:
    if role == "api":
        return settings.api_port
    if role == "flower":
        return settings.flower_port
    if role in POOL_TASKS:
        return settings.metrics_port
    if role == "llm":
        return urlsplit(settings.llm_base_url).port
    return None


def manifest_drift_problems(objects: list[Obj]) -> list[str]:
    problems: list[str] = []
    for obj in objects:
        if obj["kind"] == "ConfigMap":
            problems += unknown_env_problems(set(obj.get("data", {})), f"ConfigMap/{obj['metadata']['name']}")
        if obj["kind"] == "Secret":
            names = set(obj.get("data") or {}) | set(obj.get("stringData") or {})
            problems += unknown_env_problems(names, f"Secret/{obj['metadata']['name']}")
    settings_of: dict[str, Settings] = {}
    for workload, container in p2p_containers(objects):
        where = f"{workload['kind']}/{workload['metadata']['name']}/{container['name']}"
        problems += unknown_env_problems({e["name"] for e in container.get("env", [])}, where)
        try:
            settings = settings_from_env(container_env(container, objects))
        except ValidationError as exc:
            problems.append(f"{where}: settings invalid: {exc.errors()[0]['loc']} {exc.errors()[0]['msg']}")
            continue
        role = (container.get("args") or ["api"])[0]
        if container in (pod_spec(workload) or {}).get("containers", []):
            settings_of[workload["metadata"]["name"]] = settings
        problems += _port_problems(where, container, expected_port(role, settings))
        if role in POOL_TASKS:
            problems += _shutdown_problems(where, role, workload, container, settings)
    for obj in objects:
        if obj["kind"] == "ScaledObject":
            problems += _scaler_problems(obj, objects, settings_of)
    return problems


def _port_problems(where: str, container: Obj, expected: int | None) -> list[str]:
    if expected is None:
        return []
    ports = [p["containerPort"] for p in container.get("ports", [])]
    return [] if ports == [expected] else [f"{where}: containerPort {ports} but the settings say {expected}"]


def _shutdown_problems(where: str, role: str, workload: Obj, container: Obj, settings: Settings) -> list[str]:
    grace = (pod_spec(workload) or {}).get("terminationGracePeriodSeconds", 30)
    if role == "vision":
        needed = settings.batch_wait_ms / 1000 + BATCH_TIME_BUDGET_S + SOFT_SHUTDOWN_S
    else:
        needed = SOFT_SHUTDOWN_S + LANGUAGE_EXIT_MARGIN_S
    problems = [] if grace > needed else [f"{where}: terminationGracePeriodSeconds {grace} <= {needed:g}"]
    remap = {e["name"]: e.get("value") for e in container.get("env", [])}.get("REMAP_SIGTERM")
    if remap != "SIGQUIT":
        problems.append(f"{where}: REMAP_SIGTERM must be SIGQUIT (bounded soft shutdown on SIGTERM)")
    return problems


def _scaler_problems(scaled: Obj, objects: list[Obj], settings_of: dict[str, Settings]) -> list[str]:
    name = scaled["metadata"]["name"]
    target = scaled["spec"]["scaleTargetRef"]["name"]
    settings = settings_of.get(target)
    workload = next((o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == target), None)
    if settings is None or workload is None:
        return [f"ScaledObject/{name}: target {target} is not a pixels2posts workload"]
    role = (pod_spec(workload) or {})["containers"][0].get("args", [""])[0]
    if role not in POOL_TASKS:
        return [f"ScaledObject/{name}: target {target} runs {role!r}, not a worker pool"]
    problems: list[str] = []
    minimum = scaled["spec"].get("minReplicaCount", 0)
    if role == "vision" and minimum < 1:
        problems.append(f"ScaledObject/{name}: the vision pool must keep minReplicaCount >= 1")
    queue = celery_config(settings)["task_routes"][POOL_TASKS[role]]["queue"]  # type: ignore[index]
    broker = urlsplit(settings.broker_url)
    namespace = scaled["metadata"].get("namespace", "default")
    host = broker.hostname or ""
    fqdn = host if "." in host else f"{host}.{namespace}.svc.cluster.local"
    for trigger in scaled["spec"]["triggers"]:
        meta = trigger.get("metadata", {})
        if trigger.get("type") != "redis":
            continue
        if meta.get("listName") != queue:
            problems.append(f"ScaledObject/{name}: listName {meta.get('listName')!r} but {role} tasks go to {queue!r}")
        if meta.get("address") != f"{fqdn}:{broker.port or 6379}":
            problems.append(f"ScaledObject/{name}: address {meta.get('address')!r} is not the broker "
                            f"{fqdn}:{broker.port or 6379}")
        database = (broker.path or "/0").lstrip("/") or "0"
        if str(meta.get("databaseIndex", "0")) != database:
            problems.append(f"ScaledObject/{name}: databaseIndex {meta.get('databaseIndex')} != broker db {database}")
    return problems


def compose_drift_problems(config: dict[str, Any]) -> list[str]:
    """The same checks on `docker compose config` output: env names, valid settings, ports, grace periods."""
    problems: list[str] = []
    for name, service in config.get("services", {}).items():
        env = {k: str(v) for k, v in (service.get("environment") or {}).items() if v is not None}
        problems += unknown_env_problems(set(env), f"compose service {name}")
        if not service.get("image", "").rpartition("/")[2].startswith(P2P_IMAGE_PREFIX):
            continue
        try:
            settings = settings_from_env(env)
        except ValidationError as exc:
            problems.append(f"compose service {name}: settings invalid: {exc.errors()[0]['msg']}")
            continue
        role = (service.get("command") or ["api"])[0]
        expected = expected_port(role, settings)
        for port in service.get("ports", []) or []:
            if expected is not None and int(port["target"]) != expected:
                problems.append(f"compose service {name}: publishes {port['target']} but the settings say {expected}")
        if role == "vision":
            grace = _seconds(service.get("stop_grace_period", "10s"))
            needed = settings.batch_wait_ms / 1000 + BATCH_TIME_BUDGET_S + SOFT_SHUTDOWN_S
            if grace <= needed:
                problems.append(f"compose service {name}: stop_grace_period {grace:g}s <= {needed:g}s")
        if role == "language" and _seconds(service.get("stop_grace_period", "10s")) <= SOFT_SHUTDOWN_S:
            problems.append(f"compose service {name}: stop_grace_period shorter than the soft shutdown")
    return problems


def _seconds(duration: str) -> float:
    units = {"h": 3600.0, "m": 60.0, "s": 1.0}
    total, number = 0.0, ""
    for char in str(duration):
        if char.isdigit() or char == ".":
            number += char
        elif char in units and number:
            total, number = total + float(number) * units[char], ""
    return total + (float(number) if number else 0.0)
