"""Every rendered object passes `kubernetes-validate --strict` (KEDA objects: KEDA's CRD models), references
resolve, and the pools are shaped as the design asks: GPU vision on GPU nodes, probes, resources, PDBs, Flower."""

from __future__ import annotations

import pytest

from tests.deploy.conftest import OVERLAYS, SECRET_NAME, find
from tests.deploy.kustomize import Obj
from tests.deploy.validators import K8S_VERSION, containers, kubernetes_problems, pod_spec, reference_problems

WORKLOADS = ("Deployment", "StatefulSet")
SERVED = {"p2p-api", "p2p-flower", "p2p-llm", "redis", "postgres"}


def workloads(objects: list[Obj]) -> list[Obj]:
    return [o for o in objects if o["kind"] in WORKLOADS]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_given_an_overlay_then_every_object_passes_the_strict_schemas(
    rendered: dict[str, list[Obj]], overlay: str
) -> None:
    assert kubernetes_problems(rendered[overlay]) == [], f"against Kubernetes {K8S_VERSION}"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_given_an_overlay_then_every_reference_resolves(rendered: dict[str, list[Obj]], overlay: str) -> None:
    assert reference_problems(rendered[overlay]) == []


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_given_any_container_then_it_has_probes_resources_and_runs_unprivileged(
    rendered: dict[str, list[Obj]], overlay: str
) -> None:
    for workload in workloads(rendered[overlay]):
        pod = pod_spec(workload) or {}
        assert pod["securityContext"]["runAsNonRoot"] is True, workload["metadata"]["name"]
        assert pod["automountServiceAccountToken"] is False, workload["metadata"]["name"]
        for container in containers(workload):
            where = f"{workload['metadata']['name']}/{container['name']}"
            assert container["resources"]["requests"].keys() >= {"cpu", "memory"}, where
            assert "memory" in container["resources"]["limits"], where
            assert container["securityContext"]["allowPrivilegeEscalation"] is False, where
            assert container["securityContext"]["capabilities"]["drop"] == ["ALL"], where
        main = pod["containers"][0]
        assert "livenessProbe" in main, workload["metadata"]["name"]
        if workload["metadata"]["name"] in SERVED:
            assert "readinessProbe" in main, workload["metadata"]["name"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_given_the_pools_then_each_has_a_disruption_budget(rendered: dict[str, list[Obj]], overlay: str) -> None:
    budgets = {o["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"]
               for o in rendered[overlay] if o["kind"] == "PodDisruptionBudget"}
    assert budgets >= {"api", "vision", "language"}


def test_given_the_gpu_overlay_then_vision_pods_take_one_gpu_on_gpu_nodes(rendered: dict[str, list[Obj]]) -> None:
    vision = find(rendered["gpu"], "Deployment", "p2p-vision")
    pod = pod_spec(vision) or {}
    container = pod["containers"][0]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert pod["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod["tolerations"]
    assert container["image"].rpartition("/")[2].startswith("pixels2posts-vision:")
    assert {"name": "P2P_ORT_PROVIDERS", "value": "cuda"} in container["env"]


def test_given_the_gpu_overlay_then_the_cpu_pools_request_no_gpu(rendered: dict[str, list[Obj]]) -> None:
    for workload in workloads(rendered["gpu"]):
        if workload["metadata"]["name"] != "p2p-vision":
            for container in containers(workload):
                assert "nvidia.com/gpu" not in container["resources"].get("limits", {}), workload["metadata"]


def test_given_the_dev_overlay_then_vision_runs_the_cpu_image_without_gpu(rendered: dict[str, list[Obj]]) -> None:
    container = (pod_spec(find(rendered["dev"], "Deployment", "p2p-vision")) or {})["containers"][0]
    assert container["image"] == "pixels2posts-cpu:0.1.0"
    assert "nvidia.com/gpu" not in container["resources"]["limits"]
    assert {"name": "P2P_ORT_PROVIDERS", "value": "cpu"} in container["env"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_given_flower_then_one_replica_with_basic_auth_from_the_secret(
    rendered: dict[str, list[Obj]], overlay: str
) -> None:
    flower = find(rendered[overlay], "Deployment", "p2p-flower")
    assert flower["spec"]["replicas"] == 1
    assert flower["spec"]["strategy"]["type"] == "Recreate"
    container = (pod_spec(flower) or {})["containers"][0]
    assert container["args"] == ["flower"]
    assert {"secretRef": {"name": SECRET_NAME}} in container["envFrom"]
    secret = find(rendered[overlay], "Secret", SECRET_NAME)
    assert "P2P_FLOWER_BASIC_AUTH" in secret["data"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_given_the_api_and_vision_then_they_share_the_read_write_many_blob_volume_in_production(
    rendered: dict[str, list[Obj]], overlay: str
) -> None:
    for name in ("p2p-api", "p2p-vision"):
        pod = pod_spec(find(rendered[overlay], "Deployment", name)) or {}
        claims = [v["persistentVolumeClaim"]["claimName"] for v in pod["volumes"] if "persistentVolumeClaim" in v]
        assert claims == ["p2p-blobs"]
        mounts = {m["mountPath"] for m in pod["containers"][0]["volumeMounts"]}
        assert "/data/blobs" in mounts
    modes = find(rendered[overlay], "PersistentVolumeClaim", "p2p-blobs")["spec"]["accessModes"]
    assert modes == (["ReadWriteOnce"] if overlay == "dev" else ["ReadWriteMany"])


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_given_redis_then_it_persists_with_append_only_and_a_password(
    rendered: dict[str, list[Obj]], overlay: str
) -> None:
    redis = find(rendered[overlay], "StatefulSet", "redis")
    args = (pod_spec(redis) or {})["containers"][0]["args"]
    assert args[args.index("--appendonly") + 1] == "yes"
    assert args[args.index("--requirepass") + 1] == "$(REDIS_PASSWORD)"
    assert redis["spec"]["volumeClaimTemplates"][0]["metadata"]["name"] == "data"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_given_the_redis_network_policy_then_every_broker_client_and_keda_are_admitted(
    rendered: dict[str, list[Obj]], overlay: str
) -> None:
    policy = find(rendered[overlay], "NetworkPolicy", "redis-clients")["spec"]
    assert policy["podSelector"]["matchLabels"] == {"app.kubernetes.io/component": "redis"}
    [rule] = policy["ingress"]
    [expression] = rule["from"][0]["podSelector"]["matchExpressions"]
    # the pods that get the broker URL (from the Secret) are the ones that talk to Redis
    clients = {
        o["metadata"]["labels"]["app.kubernetes.io/component"]
        for o in workloads(rendered[overlay])
        if {"secretRef": {"name": SECRET_NAME}} in (pod_spec(o) or {})["containers"][0].get("envFrom", [])
    }
    assert clients == set(expression["values"])
    assert rule["from"][1] == {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "keda"}}}
