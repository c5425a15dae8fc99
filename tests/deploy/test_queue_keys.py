"""The KEDA Redis list scaler counts what the producer enqueues: a task sent the way the API and the vision stage
send it lands in the Redis list whose key is the ScaledObject's listName (real Redis, real Celery publishing)."""

from __future__ import annotations

import pytest
import redis

from shared.celery_config import LANGUAGE_TASK, VISION_TASK, create_app
from tests.deploy.conftest import find
from tests.deploy.drift import settings_from_env
from tests.deploy.kustomize import Obj

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("scaled_object, task", [("p2p-vision", VISION_TASK), ("p2p-language", LANGUAGE_TASK)])
def test_given_a_task_sent_as_the_producer_does_then_the_scalers_list_grows_by_one(
    redis_url: str, rendered: dict[str, list[Obj]], scaled_object: str, task: str
) -> None:
    config = find(rendered["gpu"], "ConfigMap", "p2p-config")["data"]
    settings = settings_from_env({**config, "P2P_BROKER_URL": redis_url})
    list_name = find(rendered["gpu"], "ScaledObject", scaled_object)["spec"]["triggers"][0]["metadata"]["listName"]
    app = create_app(settings)
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        assert client.llen(list_name) == 0
        app.send_task(task, args=["job-1", {}, {}, 0.0], task_id=f"job-1.{scaled_object}")
        assert client.llen(list_name) == 1
        assert [key for key in client.keys("*") if client.type(key) == "list"] == [list_name]
    finally:
        client.close()
        app.close()
