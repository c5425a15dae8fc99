"""Rendered overlays, shared by the deploy tests (rendering is pure Python: no kubectl, no cluster)."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from tests.deploy.kustomize import Obj, render
from tests.deploy.validators import REPO_ROOT

K8S = REPO_ROOT / "k8s"
OVERLAYS = sorted(p.name for p in (K8S / "overlays").iterdir() if (p / "kustomization.yaml").is_file())
# overlays whose Secret is created out of band: the keys (and placeholder values) come from this file
EXTERNAL_SECRET_EXAMPLES = {"gpu": K8S / "overlays" / "gpu" / "secrets.example.env"}
SECRET_NAME = "p2p-secrets"


def read_env_file(path: Path) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            pairs[key.strip()] = value.strip()
    return pairs


def example_secret(path: Path, namespace: str) -> Obj:
    data = {k: base64.b64encode(v.encode()).decode() for k, v in read_env_file(path).items()}
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": SECRET_NAME, "namespace": namespace}, "data": data}


def render_overlay(name: str) -> list[Obj]:
    objects = render(K8S / "overlays" / name)
    example = EXTERNAL_SECRET_EXAMPLES.get(name)
    if example is not None:
        namespace = next(o["metadata"]["name"] for o in objects if o["kind"] == "Namespace")
        objects.append(example_secret(example, namespace))
    return objects


@pytest.fixture(scope="session")
def rendered() -> dict[str, list[Obj]]:
    """overlay name -> its objects (with the documented out-of-band Secret added where there is one)."""
    return {name: render_overlay(name) for name in OVERLAYS}


def find(objects: list[Obj], kind: str, name: str) -> Obj:
    matches = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected one {kind}/{name}, found {len(matches)}"
    return matches[0]
