"""The kombu shim (`workers/kombu_compat.py`) on a real Redis that is SIGKILLed under a consumer holding unacked
messages: Celery's teardown of the broken connection (collect, then close) and the late ack of a task that ran
through the outage must not raise anything but a connection error, and the messages must stay in Redis's
`unacked` hash (where the reconciler finds them) after Redis comes back from its AOF."""

from __future__ import annotations

import contextlib
import inspect
import logging
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kombu
import pytest
import redis
from kombu.common import ignore_errors
from kombu.transport import redis as kombu_redis

from pixels2posts.services import RedisServer, ping, start_redis, stop_redis
from shared.ports import free_port
from workers import kombu_compat

MESSAGES = 3


@pytest.fixture()
def dying_redis(tmp_path: Path) -> Iterator[tuple[RedisServer, Path]]:
    state = tmp_path / "redis"
    server = start_redis(free_port(), state, persist=True)
    try:
        yield server, state
    finally:
        stop_redis(server.port, state)


def consumer_holding_unacked(url: str) -> tuple[kombu.Connection, list[kombu.Message]]:
    """A connection set up like a Celery worker's: a task queue and the remote-control mailbox (an auto-delete
    fanout queue) on the default channel, MESSAGES delivered and not acknowledged, a BRPOP pending."""
    connection = kombu.Connection(url)
    tasks = kombu.Queue("vision", routing_key="vision")
    mailbox = kombu.Queue("worker.pidbox", exchange=kombu.Exchange("worker.pidbox", type="fanout"), auto_delete=True)
    with connection.Producer() as producer:
        for number in range(MESSAGES):
            producer.publish({"n": number}, routing_key="vision", declare=[tasks])
    delivered: list[kombu.Message] = []
    consumer = connection.Consumer([tasks, mailbox], callbacks=[lambda _body, message: delivered.append(message)],
                                   no_ack=False)
    consumer.consume()
    channel: Any = connection.default_channel
    deadline = time.monotonic() + 10
    # the crash needs a BRPOP in flight when Redis dies (as in a worker waiting for work): drain until one is
    while len(delivered) < MESSAGES or channel._in_poll is None:
        assert time.monotonic() < deadline, "no pending BRPOP"
        with contextlib.suppress(TimeoutError):
            connection.drain_events(timeout=0.2)
    assert len(channel.qos._delivered) == MESSAGES
    return connection, delivered


def kill(server: RedisServer) -> None:
    os.kill(server.pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while ping(server.port):
        assert time.monotonic() < deadline, "Redis did not die"
        time.sleep(0.05)


def celery_teardown(connection: kombu.Connection) -> None:
    """What celery 5.7's consumer does with a broken connection (`on_connection_error_after_connected`)."""
    with contextlib.suppress(Exception):  # celery ignores every error here
        connection.collect(socket_timeout=1.0)
    ignore_errors(connection, connection.close)  # ignores connection and channel errors only


def late_ack(message: kombu.Message) -> None:
    """What the consumer runs when a task that started before the outage finishes (`task_acks_late`)."""
    message.ack_log_error(logging.getLogger("test"), kombu_redis.Transport.connection_errors)


def unacked_after_restart(server: RedisServer, state: Path) -> int:
    start_redis(server.port, state, persist=True)
    client = redis.Redis(port=server.port)
    try:
        return int(client.hlen("unacked"))
    finally:
        client.close()


def test_given_the_worker_app_then_the_shim_is_installed() -> None:
    import workers.celery_app  # noqa: F401  (the import installs it)

    assert kombu_compat.installed()


def test_given_redis_killed_under_unacked_messages_then_teardown_and_late_ack_survive_and_nothing_is_lost(
    dying_redis: tuple[RedisServer, Path],
) -> None:
    server, state = dying_redis
    kombu_compat.install()
    connection, delivered = consumer_holding_unacked(server.url)
    kill(server)
    celery_teardown(connection)  # without the shim: AttributeError 'NoneType' object has no attribute 'hostname'
    late_ack(delivered[0])  # without the shim: AttributeError ... 'client' (or 'hostname')
    assert unacked_after_restart(server, state) == MESSAGES  # the ack never reached Redis: it comes back later


def test_given_kombu_without_the_shim_then_the_teardown_still_crashes(
    dying_redis: tuple[RedisServer, Path], monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The reason the shim exists. When this fails, kombu fixed the close path: delete `workers/kombu_compat.py`."""
    kombu_compat.install()
    monkeypatch.setattr(kombu_redis.Channel, "_connparams", inspect.unwrap(kombu_redis.Channel._connparams))
    server, _ = dying_redis
    connection, _ = consumer_holding_unacked(server.url)
    kill(server)
    with pytest.raises(AttributeError, match="hostname"):
        celery_teardown(connection)


def test_given_kombu_without_the_shim_then_a_late_ack_after_the_teardown_still_crashes(
    dying_redis: tuple[RedisServer, Path], monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The second path (the worker survived the teardown, then a task that ran through the outage finished)."""
    kombu_compat.install()
    server, _ = dying_redis
    connection, delivered = consumer_holding_unacked(server.url)
    kill(server)
    celery_teardown(connection)
    monkeypatch.setattr(kombu_redis.Channel, "_connparams", inspect.unwrap(kombu_redis.Channel._connparams))
    with pytest.raises(AttributeError):
        late_ack(delivered[0])


def test_given_an_attached_channel_then_an_attribute_error_is_not_disguised(
    dying_redis: tuple[RedisServer, Path], monkeypatch: pytest.MonkeyPatch,
) -> None:
    kombu_compat.install()
    server, _ = dying_redis
    connection, _ = consumer_holding_unacked(server.url)
    channel: Any = connection.default_channel
    assert not kombu_compat.detached(channel)
    monkeypatch.setattr(channel.connection, "client", object())  # a broken connection object, still attached
    with pytest.raises(AttributeError, match="hostname"):
        channel._connparams()
    monkeypatch.undo()
    connection.close()
