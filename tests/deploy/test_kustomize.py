"""The kustomize tree renders: every overlay through the Python renderer, identical to `kubectl kustomize` where
kubectl is installed; the renderer's merge rules behave as kustomize's."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.deploy.conftest import K8S, OVERLAYS
from tests.deploy.kustomize import CLUSTER_SCOPED_KINDS, KustomizeError, object_key, render, strategic_merge

KUSTOMIZATIONS = sorted(p.parent for p in K8S.rglob("kustomization.yaml"))


def test_given_the_k8s_tree_then_there_are_dev_and_gpu_overlays() -> None:
    assert {"dev", "gpu"} <= set(OVERLAYS)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_given_an_overlay_when_rendered_then_every_namespaced_object_is_in_its_namespace(overlay: str) -> None:
    objects = render(K8S / "overlays" / overlay)
    namespaces = [o["metadata"]["name"] for o in objects if o["kind"] == "Namespace"]
    assert len(namespaces) == 1
    for obj in objects:
        if obj["kind"] not in CLUSTER_SCOPED_KINDS:
            assert obj["metadata"].get("namespace") == namespaces[0], object_key(obj)
    kinds = {o["kind"] for o in objects}
    assert {"Deployment", "StatefulSet", "Service", "ConfigMap", "PodDisruptionBudget", "ScaledObject",
            "TriggerAuthentication", "PersistentVolumeClaim"} <= kinds


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not installed: the Python renderer alone")
@pytest.mark.parametrize("folder", KUSTOMIZATIONS, ids=lambda p: str(p.relative_to(K8S)))
def test_given_kubectl_when_rendering_then_the_python_renderer_gives_the_same_objects(folder: Path) -> None:
    output = subprocess.run(["kubectl", "kustomize", str(folder)], capture_output=True, text=True, check=True,
                            timeout=60).stdout
    expected = {object_key(o): o for o in yaml.safe_load_all(output) if o}
    actual = {object_key(o): o for o in render(folder)}
    assert actual.keys() == expected.keys()
    for key, obj in expected.items():
        assert actual[key] == obj, key


def test_given_keyed_lists_when_strategic_merging_then_items_merge_by_key_and_null_deletes() -> None:
    base = {"containers": [{"name": "a", "image": "x:1", "env": [{"name": "A", "value": "1"},
                                                               {"name": "B", "value": "2"}]}],
            "tolerations": [{"key": "old"}], "nodeSelector": {"gone": "yes"}}
    patch = {"containers": [{"name": "a", "env": [{"name": "B", "value": "3"}]}],
             "tolerations": [{"key": "new"}], "nodeSelector": {"gone": None, "gpu": "true"}}
    merged = strategic_merge(base, patch, builtin=True)
    assert merged["containers"][0]["image"] == "x:1"
    assert merged["containers"][0]["env"] == [{"name": "B", "value": "3"}, {"name": "A", "value": "1"}]
    assert merged["tolerations"] == [{"key": "new"}]
    assert merged["nodeSelector"] == {"gpu": "true"}


def write(folder: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


CONFIG = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  A: '1'\n"


def test_given_a_json_patch_when_rendered_then_the_value_is_replaced(tmp_path: Path) -> None:
    write(tmp_path, {"c.yaml": CONFIG, "kustomization.yaml": (
        "resources: [c.yaml]\npatches:\n  - target: {kind: ConfigMap, name: c}\n"
        "    patch: '[{\"op\": \"replace\", \"path\": \"/data/A\", \"value\": \"2\"}]'\n")})
    assert render(tmp_path)[0]["data"] == {"A": "2"}


@pytest.mark.parametrize("kustomization, message", [
    ("resources: [c.yaml]\ncommonAnnotations: {a: b}\n", "does not implement"),
    ("resources: [c.yaml]\npatches:\n  - target: {kind: ConfigMap, name: nope}\n"
     "    patch: '[{\"op\": \"remove\", \"path\": \"/data/A\"}]'\n", "matches nothing"),
    ("resources: [c.yaml, c.yaml]\n", "defined twice"),
    ("resources: [c.yaml]\nconfigMapGenerator:\n  - name: g\n    literals: [A=1]\n", "disableNameSuffixHash"),
])
def test_given_an_unsupported_or_wrong_kustomization_then_rendering_refuses(
    tmp_path: Path, kustomization: str, message: str
) -> None:
    write(tmp_path, {"c.yaml": CONFIG, "kustomization.yaml": kustomization})
    with pytest.raises(KustomizeError, match=message):
        render(tmp_path)
