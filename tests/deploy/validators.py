"""Offline validators for docker/ and k8s/. Each returns a list of problems (empty: valid), so the tests can show
both that the real files pass and that a deliberately broken file is caught."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
from cloudcoil.models.keda import v1alpha1 as keda
from pydantic import BaseModel, ValidationError

Obj = dict[str, Any]

REPO_ROOT = Path(__file__).resolve().parents[2]
K8S_VERSION = "1.32.0"  # schemas shipped by kubernetes-validate; the oldest minor we support
KEDA_MODELS: dict[str, type[BaseModel]] = {
    "ScaledObject": keda.ScaledObject,
    "TriggerAuthentication": keda.TriggerAuthentication,
}
# the Redis list scaler's metadata (KEDA docs, scalers/redis-lists)
REDIS_SCALER_FIELDS = {
    "address", "addressFromEnv", "host", "hostFromEnv", "port", "portFromEnv", "usernameFromEnv",
    "passwordFromEnv", "listName", "listLength", "activationListLength", "databaseIndex", "enableTLS",
    "unsafeSsl",
}
REDIS_SCALER_NUMBERS = {"listLength", "activationListLength", "databaseIndex", "port"}
TRAIN_ONLY_PACKAGES = {"torch", "torchvision", "ultralytics", "open-clip-torch", "timm"}


def kubernetes_problems(objects: list[Obj]) -> list[str]:
    """kubernetes-validate --strict on every object; KEDA objects against KEDA's CRD models instead."""
    problems: list[str] = []
    for obj in objects:
        where = f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"
        if str(obj.get("apiVersion", "")).startswith("keda.sh/"):
            problems += [f"{where}: {p}" for p in keda_problems(obj)]
            continue
        try:
            kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            problems.append(f"{where}: no Kubernetes {K8S_VERSION} schema for {obj.get('apiVersion')}")
        except kubernetes_validate.ValidationError as exc:
            path = "/".join(str(part) for part in exc.path)
            problems.append(f"{where}: {path}: {exc.message}")
    return problems


def keda_problems(obj: Obj) -> list[str]:
    """Validate against KEDA's CRD models, refusing unknown fields (the models alone would drop them)."""
    model = KEDA_MODELS.get(obj.get("kind", ""))
    if model is None:
        return [f"KEDA kind {obj.get('kind')!r} is not validated here"]
    try:
        parsed = model.model_validate(obj)
    except ValidationError as exc:
        return [f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()]
    kept = parsed.model_dump(mode="json", by_alias=True, exclude_unset=True)
    problems = [f"{path}: unknown field" for path in _dropped_fields(obj, kept)]
    for index, trigger in enumerate(obj.get("spec", {}).get("triggers", []) or []):
        problems += [f"spec.triggers.{index}: {p}" for p in _redis_trigger_problems(trigger)]
    return problems


def _dropped_fields(original: Any, kept: Any, path: str = "") -> list[str]:
    if isinstance(original, dict):
        kept = kept if isinstance(kept, dict) else {}
        dropped: list[str] = []
        for key, value in original.items():
            child = f"{path}.{key}" if path else key
            dropped += [child] if key not in kept else _dropped_fields(value, kept[key], child)
        return dropped
    if isinstance(original, list) and isinstance(kept, list):
        return [p for i, item in enumerate(original) for p in _dropped_fields(item, kept[i], f"{path}.{i}")]
    return []


def _redis_trigger_problems(trigger: Obj) -> list[str]:
    if trigger.get("type") != "redis":
        return []
    metadata = trigger.get("metadata", {}) or {}
    problems = [f"redis scaler has no field {key!r}" for key in sorted(set(metadata) - REDIS_SCALER_FIELDS)]
    if "listName" not in metadata:
        problems.append("redis scaler needs listName")
    if not {"address", "addressFromEnv", "host", "hostFromEnv"} & set(metadata):
        problems.append("redis scaler needs address or host")
    for key in sorted(REDIS_SCALER_NUMBERS & set(metadata)):
        if not re.fullmatch(r"\d+", str(metadata[key])):
            problems.append(f"redis scaler {key} must be a whole number, got {metadata[key]!r}")
    return problems


def reference_problems(objects: list[Obj], external_secrets: frozenset[str] = frozenset()) -> list[str]:
    """Names one object uses of another (ConfigMap, Secret, PVC, scale target, auth, Service selector) exist."""
    names: dict[str, set[str]] = {}
    for obj in objects:
        names.setdefault(obj["kind"], set()).add(obj["metadata"]["name"])
    secrets = names.get("Secret", set()) | external_secrets
    problems: list[str] = []
    for obj in objects:
        where = f"{obj['kind']}/{obj['metadata']['name']}"
        pod = pod_spec(obj)
        for container in containers(obj):
            for source in container.get("envFrom", []):
                if "configMapRef" in source and source["configMapRef"]["name"] not in names.get("ConfigMap", ()):
                    problems.append(f"{where}: ConfigMap {source['configMapRef']['name']} missing")
                if "secretRef" in source and source["secretRef"]["name"] not in secrets:
                    problems.append(f"{where}: Secret {source['secretRef']['name']} missing")
            for env in container.get("env", []):
                ref = env.get("valueFrom", {}).get("secretKeyRef")
                if ref and ref["name"] not in secrets:
                    problems.append(f"{where}: Secret {ref['name']} missing")
        for volume in (pod or {}).get("volumes", []):
            claim = volume.get("persistentVolumeClaim", {}).get("claimName")
            if claim and claim not in names.get("PersistentVolumeClaim", ()):
                problems.append(f"{where}: PersistentVolumeClaim {claim} missing")
        if obj["kind"] == "ScaledObject":
            target = obj["spec"]["scaleTargetRef"]["name"]
            if target not in names.get("Deployment", ()):
                problems.append(f"{where}: scale target Deployment {target} missing")
            for trigger in obj["spec"]["triggers"]:
                auth = trigger.get("authenticationRef", {}).get("name")
                if auth and auth not in names.get("TriggerAuthentication", ()):
                    problems.append(f"{where}: TriggerAuthentication {auth} missing")
        if obj["kind"] in ("Service", "PodDisruptionBudget"):
            selector = obj["spec"].get("selector", {})
            selector = selector.get("matchLabels", selector)
            if not any(_selects(selector, other) for other in objects):
                problems.append(f"{where}: selector {selector} matches no pod template")
    return problems


def _selects(selector: dict[str, str], obj: Obj) -> bool:
    labels = obj.get("spec", {}).get("template", {}).get("metadata", {}).get("labels", {})
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def pod_spec(obj: Obj) -> Obj | None:
    template = obj.get("spec", {}).get("template")
    return template.get("spec") if isinstance(template, dict) else None


def containers(obj: Obj) -> list[Obj]:
    pod = pod_spec(obj) or {}
    return [*pod.get("initContainers", []), *pod.get("containers", [])]


def hadolint_problems(dockerfile: Path, config: Path = REPO_ROOT / ".hadolint.yaml") -> list[str]:
    """hadolint's errors and warnings (those not ignored, with reasons, in .hadolint.yaml)."""
    binary = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    result = subprocess.run(
        [binary, "--config", str(config), "--format", "json", "--no-color", str(dockerfile)],
        capture_output=True, text=True, timeout=120, check=False,
    )
    if result.returncode not in (0, 1) or not result.stdout.strip():
        raise RuntimeError(f"hadolint failed to run: rc={result.returncode} {result.stderr.strip()}")
    findings = json.loads(result.stdout)
    return [
        f"{dockerfile.name}:{f['line']} {f['code']} {f['level']}: {f['message']}"
        for f in findings
        if f["level"] in ("error", "warning")
    ]
