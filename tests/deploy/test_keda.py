"""KEDA: one ScaledObject per pool on its Celery queue, valid against KEDA's CRD models (unknown fields refused)."""

from __future__ import annotations

import pytest

from tests.deploy.conftest import OVERLAYS, SECRET_NAME, find
from tests.deploy.kustomize import Obj
from tests.deploy.validators import keda_problems


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_given_keda_objects_then_they_pass_the_keda_schema(rendered: dict[str, list[Obj]], overlay: str) -> None:
    objects = [o for o in rendered[overlay] if o["apiVersion"].startswith("keda.sh/")]
    assert {o["kind"] for o in objects} == {"ScaledObject", "TriggerAuthentication"}
    for obj in objects:
        assert keda_problems(obj) == [], obj["metadata"]["name"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_given_the_pools_then_vision_keeps_one_replica_and_language_may_scale_to_zero(
    rendered: dict[str, list[Obj]], overlay: str
) -> None:
    vision = find(rendered[overlay], "ScaledObject", "p2p-vision")["spec"]
    language = find(rendered[overlay], "ScaledObject", "p2p-language")["spec"]
    assert vision["scaleTargetRef"]["name"] == "p2p-vision"
    assert language["scaleTargetRef"]["name"] == "p2p-language"
    assert vision["minReplicaCount"] >= 1
    assert language["minReplicaCount"] == 0
    assert vision["maxReplicaCount"] > vision["minReplicaCount"]
    assert language["maxReplicaCount"] >= 1
    for spec in (vision, language):
        assert [t["type"] for t in spec["triggers"]] == ["redis"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_given_the_trigger_authentication_then_it_reads_the_redis_password_from_the_secret(
    rendered: dict[str, list[Obj]], overlay: str
) -> None:
    auth = find(rendered[overlay], "TriggerAuthentication", "p2p-redis")
    [reference] = auth["spec"]["secretTargetRef"]
    assert reference == {"parameter": "password", "name": SECRET_NAME, "key": "REDIS_PASSWORD"}
    assert "REDIS_PASSWORD" in find(rendered[overlay], "Secret", SECRET_NAME)["data"]
    for name in ("p2p-vision", "p2p-language"):
        trigger = find(rendered[overlay], "ScaledObject", name)["spec"]["triggers"][0]
        assert trigger["authenticationRef"] == {"name": "p2p-redis"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_given_a_scale_target_then_its_deployment_leaves_the_replica_count_to_keda(
    rendered: dict[str, list[Obj]], overlay: str
) -> None:
    for scaled in (o for o in rendered[overlay] if o["kind"] == "ScaledObject"):
        target = find(rendered[overlay], "Deployment", scaled["spec"]["scaleTargetRef"]["name"])
        assert "replicas" not in target["spec"], "kubectl apply would reset KEDA's count"
