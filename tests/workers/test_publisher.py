"""The relay's Publisher against a real Redis: one broker connection for many messages (a connect per message was
the largest per-job cost in the worker's profile), and a fresh connection after the broker restarts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from pixels2posts.services import start_redis, stop_redis
from shared.celery_config import VISION_TASK, create_app
from shared.ports import free_port
from shared.settings import Settings
from shared.store.repository import Message
from workers.reliability import Publisher


def _connections_received(client: redis.Redis) -> int:
    return int(client.info("stats")["total_connections_received"])


def test_given_many_messages_then_all_are_queued_over_one_connection(redis_url: str) -> None:
    settings = Settings(broker_url=redis_url)
    publisher = Publisher(create_app(settings))
    client = redis.Redis.from_url(redis_url)
    publisher(Message(VISION_TASK, ["job-0", "blob:x", {}, 0.0], "job-0.vision"))  # opens the connection
    before = _connections_received(client)
    for n in range(1, 20):
        publisher(Message(VISION_TASK, [f"job-{n}", "blob:x", {}, 0.0], f"job-{n}.vision"))
    assert client.llen(settings.vision_queue) == 20
    # the 19 later messages opened no connection of their own (a connect per message would add 19)
    assert _connections_received(client) - before <= 1
    publisher.close()
    client.close()


@pytest.fixture()
def private_redis(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    port, state = free_port(), tmp_path / "redis"
    start_redis(port, state)
    try:
        yield port, state
    finally:
        stop_redis(port, state)


def test_given_a_broker_restart_then_the_publisher_reconnects(private_redis: tuple[int, Path]) -> None:
    port, state = private_redis
    url = f"redis://127.0.0.1:{port}/0"
    settings = Settings(broker_url=url)
    publisher = Publisher(create_app(settings))
    publisher(Message(VISION_TASK, ["before", "blob:x", {}, 0.0], "before.vision"))
    stop_redis(port, state)
    start_redis(port, state)
    # the kept connection is dead now: at most one publish fails (and drops it), then a fresh one is opened
    outcomes = []
    for attempt in range(2):
        try:
            publisher(Message(VISION_TASK, ["after", "blob:x", {}, 0.0], f"after-{attempt}.vision"))
        except Exception as exc:  # the broker error of the dead connection
            outcomes.append(type(exc).__name__)
            continue
        outcomes.append("sent")
        break
    assert outcomes[-1] == "sent", outcomes
    client = redis.Redis.from_url(url)
    assert client.llen(settings.vision_queue) >= 1
    publisher.close()
    client.close()
