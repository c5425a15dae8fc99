"""A small, strict kustomize renderer for the features k8s/ uses, so the manifests render without kubectl.

Supported: `resources` (files and nested kustomization folders), `namespace`, `labels` (pairs, metadata only),
`configMapGenerator` / `secretGenerator` with literals (only with `generatorOptions.disableNameSuffixHash`),
`patches` (strategic merge, a file of one or more documents or inline; JSON 6902 with a `target`), `images`,
`replicas`. Anything else is refused with KustomizeError rather than silently ignored; the transformers run in
kustomize's order (patches, namespace, labels, replicas, images). When kubectl is installed the tests check that
`kubectl kustomize` renders the same objects.
"""

from __future__ import annotations

import base64
import copy
from pathlib import Path
from typing import Any

import yaml

Obj = dict[str, Any]

SUPPORTED_FIELDS = {
    "apiVersion", "kind", "namespace", "labels", "resources", "configMapGenerator", "secretGenerator",
    "generatorOptions", "patches", "images", "replicas",
}
CLUSTER_SCOPED_KINDS = {
    "Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "PersistentVolume",
    "StorageClass", "PriorityClass", "ClusterTriggerAuthentication", "ValidatingWebhookConfiguration",
    "MutatingWebhookConfiguration",
}
# strategic-merge keys of the lists in built-in kinds that k8s/ patches; other lists are replaced
MERGE_KEYS = {
    "containers": "name", "initContainers": "name", "env": "name", "volumes": "name",
    "volumeMounts": "mountPath", "imagePullSecrets": "name",
}
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController"}


class KustomizeError(ValueError):
    pass


def load_documents(path: Path) -> list[Obj]:
    with path.open() as handle:
        return [doc for doc in yaml.safe_load_all(handle) if doc is not None]


def render(folder: Path) -> list[Obj]:
    """The objects `kubectl kustomize folder` would print (order aside)."""
    kfile = folder / "kustomization.yaml"
    if not kfile.is_file():
        raise KustomizeError(f"{folder}: no kustomization.yaml")
    kustomization = yaml.safe_load(kfile.read_text()) or {}
    unknown = set(kustomization) - SUPPORTED_FIELDS
    if unknown:
        raise KustomizeError(f"{kfile}: fields this renderer does not implement: {sorted(unknown)}")
    objects: list[Obj] = []
    for entry in kustomization.get("resources", []):
        target = (folder / entry).resolve()
        objects += render(target) if target.is_dir() else load_documents(target)
    objects += _generated(kustomization, kfile)
    _check_unique(objects, kfile)
    for patch in kustomization.get("patches", []):
        _apply_patch(objects, patch, folder)
    if "namespace" in kustomization:
        _set_namespace(objects, kustomization["namespace"])
    for label_set in kustomization.get("labels", []):
        _add_labels(objects, label_set, kfile)
    for replica in kustomization.get("replicas", []):
        _set_replicas(objects, replica)
    for image in kustomization.get("images", []):
        _set_image(objects, image)
    return objects


def object_key(obj: Obj) -> tuple[str, str, str, str]:
    meta = obj.get("metadata", {})
    return (obj.get("apiVersion", ""), obj.get("kind", ""), meta.get("namespace", ""), meta.get("name", ""))


def _check_unique(objects: list[Obj], source: Path) -> None:
    seen: set[tuple[str, str, str, str]] = set()
    for obj in objects:
        key = object_key(obj)
        if key in seen:
            raise KustomizeError(f"{source}: {key} is defined twice")
        seen.add(key)


def _generated(kustomization: Obj, source: Path) -> list[Obj]:
    generators = [("ConfigMap", g) for g in kustomization.get("configMapGenerator", [])]
    generators += [("Secret", g) for g in kustomization.get("secretGenerator", [])]
    if generators and not kustomization.get("generatorOptions", {}).get("disableNameSuffixHash"):
        raise KustomizeError(f"{source}: generators need generatorOptions.disableNameSuffixHash here")
    return [_generate(kind, generator, source) for kind, generator in generators]


def _generate(kind: str, generator: Obj, source: Path) -> Obj:
    if set(generator) - {"name", "literals", "type"}:
        raise KustomizeError(f"{source}: only literal generators are implemented: {generator}")
    pairs = dict(_literal(item, source) for item in generator.get("literals", []))
    obj: Obj = {"apiVersion": "v1", "kind": kind, "metadata": {"name": generator["name"]}}
    if kind == "Secret":
        obj["type"] = generator.get("type", "Opaque")
        obj["data"] = {key: _base64(value) for key, value in pairs.items()}
    else:
        obj["data"] = pairs
    return obj


def _base64(value: str) -> str:
    """Base64 as kustomize writes it: lines of 70 characters, each ending in a newline, once it needs several."""
    encoded = base64.b64encode(value.encode()).decode()
    if len(encoded) <= 70:
        return encoded
    return "".join(encoded[i : i + 70] + "\n" for i in range(0, len(encoded), 70))


def _literal(item: str, source: Path) -> tuple[str, str]:
    key, sep, value = item.partition("=")
    if not sep or not key:
        raise KustomizeError(f"{source}: literal {item!r} is not KEY=VALUE")
    return key, value


def _apply_patch(objects: list[Obj], patch: Obj, folder: Path) -> None:
    if "path" in patch:
        documents = load_documents(folder / patch["path"])
    else:
        documents = [doc for doc in yaml.safe_load_all(patch["patch"]) if doc is not None]
    if len(documents) == 1 and isinstance(documents[0], list):
        targets = _select(objects, patch.get("target"), folder)
        for obj in targets:
            _json6902(obj, documents[0])
        return
    for document in documents:
        meta = document.get("metadata", {})
        selector = {"kind": document.get("kind"), "name": meta.get("name")}
        for obj in _select(objects, patch.get("target") or selector, folder):
            merged = strategic_merge(obj, document, builtin=_is_builtin(obj))
            obj.clear()
            obj.update(merged)


def _is_builtin(obj: Obj) -> bool:
    group = obj.get("apiVersion", "").rpartition("/")[0]
    return "." not in group or group.endswith(".k8s.io")


def _select(objects: list[Obj], target: Obj | None, folder: Path) -> list[Obj]:
    if not target:
        raise KustomizeError(f"{folder}: a JSON 6902 patch needs a target")
    if set(target) - {"group", "version", "kind", "name", "namespace"}:
        raise KustomizeError(f"{folder}: target fields not implemented: {target}")
    found = [obj for obj in objects if _matches(obj, target)]
    if not found:
        raise KustomizeError(f"{folder}: patch target {target} matches nothing")
    return found


def _matches(obj: Obj, target: Obj) -> bool:
    group, _, version = obj.get("apiVersion", "").rpartition("/")
    meta = obj.get("metadata", {})
    actual = {"group": group, "version": version, "kind": obj.get("kind"), "name": meta.get("name"),
              "namespace": meta.get("namespace")}
    return all(actual[field] == wanted for field, wanted in target.items() if wanted is not None)


def strategic_merge(base: Any, patch: Any, *, builtin: bool, key: str = "") -> Any:
    """Strategic merge of `patch` into `base`: maps merge (null deletes), keyed lists merge, others replace."""
    if isinstance(base, dict) and isinstance(patch, dict):
        if any(k.startswith("$") for k in patch):
            raise KustomizeError(f"patch directives are not implemented: {sorted(patch)}")
        merged = copy.deepcopy(base)
        for name, value in patch.items():
            if value is None:
                merged.pop(name, None)
            elif name in merged:
                merged[name] = strategic_merge(merged[name], value, builtin=builtin, key=name)
            else:
                merged[name] = copy.deepcopy(value)
        return merged
    merge_key = MERGE_KEYS.get(key) if builtin else None
    if isinstance(base, list) and isinstance(patch, list) and merge_key:
        # as kustomize orders them: the patch's items (merged into their base item) first, then the others
        by_key = {old.get(merge_key): old for old in base}
        patched = [strategic_merge(by_key.get(item.get(merge_key), {}), item, builtin=builtin) for item in patch]
        patched_keys = {item.get(merge_key) for item in patch}
        return patched + [copy.deepcopy(old) for old in base if old.get(merge_key) not in patched_keys]
    return copy.deepcopy(patch)


def _json6902(obj: Obj, operations: list[Obj]) -> None:
    for operation in operations:
        op, path = operation.get("op"), operation.get("path", "")
        parts = [p.replace("~1", "/").replace("~0", "~") for p in path.split("/")[1:]]
        if not parts or op not in ("add", "replace", "remove"):
            raise KustomizeError(f"JSON patch operation not implemented: {operation}")
        parent: Any = obj
        for part in parts[:-1]:
            parent = parent[int(part)] if isinstance(parent, list) else parent[part]
        last = parts[-1]
        if isinstance(parent, list):
            index = len(parent) if last == "-" else int(last)
            if op == "remove" or op == "replace":
                parent.pop(index)
            if op != "remove":
                parent.insert(index, copy.deepcopy(operation["value"]))
        else:
            if op in ("remove", "replace") and last not in parent:
                raise KustomizeError(f"JSON patch {operation} on {object_key(obj)}: {path} does not exist")
            if op == "remove":
                del parent[last]
            else:
                parent[last] = copy.deepcopy(operation["value"])


def _set_namespace(objects: list[Obj], namespace: str) -> None:
    for obj in objects:
        if obj.get("kind") not in CLUSTER_SCOPED_KINDS:
            obj.setdefault("metadata", {})["namespace"] = namespace


def _add_labels(objects: list[Obj], label_set: Obj, source: Path) -> None:
    if set(label_set) - {"pairs", "includeSelectors"} or label_set.get("includeSelectors"):
        raise KustomizeError(f"{source}: only metadata labels (includeSelectors false) are implemented")
    for obj in objects:
        obj.setdefault("metadata", {}).setdefault("labels", {}).update(label_set["pairs"])


def _set_replicas(objects: list[Obj], replica: Obj) -> None:
    found = [o for o in objects if o.get("kind") in WORKLOAD_KINDS and o["metadata"]["name"] == replica["name"]]
    if not found:
        raise KustomizeError(f"replicas: no workload named {replica['name']}")
    for obj in found:
        obj["spec"]["replicas"] = replica["count"]


def _set_image(objects: list[Obj], image: Obj) -> None:
    for obj in objects:
        for container in _containers(obj):
            name, tag = _split_image(container.get("image", ""))
            if name != image["name"]:
                continue
            container["image"] = f"{image.get('newName', name)}:{image.get('newTag', tag)}"


def _containers(obj: Obj) -> list[Obj]:
    spec = obj.get("spec", {})
    pod = spec.get("template", {}).get("spec", {}) if obj.get("kind") in WORKLOAD_KINDS else {}
    return [*pod.get("initContainers", []), *pod.get("containers", [])]


def _split_image(image: str) -> tuple[str, str]:
    name, sep, tag = image.rpartition(":")
    if not sep or "/" in tag:
        return image, "latest"
    return name, tag
