"""The outbox, leases and the reconciler against a real Redis and real databases (SQLite and PostgreSQL):
a job accepted without its message being published (the API died between insert and enqueue) is published by the
relay; a job whose worker died is re-driven once its lease lapses; a job whose message vanished from the broker is
re-driven; one whose message still waits is left alone; deliveries are bounded; webhooks come from their own
outbox."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import redis

from shared.celery_config import VISION_TASK, WEBHOOK_TASK, create_app
from shared.reconcile import Reconciler, build_reconciler
from shared.settings import Settings
from shared.store import JobStore, NewJob
from shared.store.outbox import OutboxStore
from shared.store.repository import Claim, Message

SHA = "a" * 64


@pytest.fixture()
def parts(redis_url: str, database_url: str) -> Iterator[tuple[JobStore, Reconciler, redis.Redis]]:
    settings = Settings(broker_url=redis_url, database_url=database_url)
    celery = create_app(settings)
    store = JobStore(database_url)
    client = redis.Redis.from_url(redis_url)

    def publish(message: Message) -> None:
        celery.send_task(message.task, args=message.args, task_id=message.task_id)

    reconciler = build_reconciler(store, publish, client, ("vision", "language"), grace_s=0.5,
                                  webhook_task=WEBHOOK_TASK)
    yield store, reconciler, client
    client.close()
    celery.close()


def new_job(store: JobStore, seed: str = "a", callback_url: str | None = None, grace_s: float = 0.5) -> str:
    def message(job_id: str) -> Message:
        return Message(VISION_TASK, [job_id, f"blob:{SHA}", {}, 0.0], f"{job_id}.vision")

    job, created = store.create_or_get(NewJob(seed * 64, f"blob:{SHA}", callback_url=callback_url), message,
                                       wait_grace_s=grace_s)
    assert created
    return job.id


def queued_ids(client: redis.Redis, queue: str = "vision") -> list[str]:
    import json

    return [json.loads(raw)["headers"]["id"] for raw in client.lrange(queue, 0, -1)]


def test_given_a_job_committed_but_never_published_then_the_relay_publishes_it_once(
    parts: tuple[JobStore, Reconciler, redis.Redis],
) -> None:
    store, reconciler, client = parts
    job_id = new_job(store)  # the API "died" here: row and message committed, nothing sent
    assert client.llen("vision") == 0
    assert reconciler.relay() == 1
    assert reconciler.relay() == 0
    assert queued_ids(client) == [f"{job_id}.vision"]


def test_given_claims_then_busy_done_and_bounded_deliveries(parts: tuple[JobStore, Reconciler, redis.Redis]) -> None:
    store, _, _ = parts
    job_id = new_job(store)
    assert store.claim(job_id, "vision", "w1", lease_s=30, max_deliveries=2) is Claim.CLAIMED
    assert store.claim(job_id, "vision", "w2", lease_s=30, max_deliveries=2) is Claim.BUSY  # live lease
    assert store.claim(job_id, "language", "w2", lease_s=30, max_deliveries=2) is Claim.DONE  # wrong stage
    assert store.renew([job_id], "w1", lease_s=0.01) == 1
    time.sleep(0.05)
    assert store.claim(job_id, "vision", "w2", lease_s=30, max_deliveries=2) is Claim.CLAIMED  # lapsed: taken
    store.renew([job_id], "w2", lease_s=0.01)
    time.sleep(0.05)
    assert store.claim(job_id, "vision", "w3", lease_s=30, max_deliveries=2) is Claim.EXHAUSTED
    job = store.get(job_id)
    assert job is not None and job.state == "failed" and job.error_code == "too_many_deliveries"
    assert store.claim(job_id, "vision", "w4", lease_s=30, max_deliveries=2) is Claim.DONE


def test_given_a_dead_worker_then_its_job_is_redriven_after_the_lease(
    parts: tuple[JobStore, Reconciler, redis.Redis],
) -> None:
    store, reconciler, client = parts
    job_id = new_job(store)
    reconciler.relay()
    client.delete("vision")  # the dead worker took the message
    assert store.claim(job_id, "vision", "dead-worker", lease_s=0.2, max_deliveries=5) is Claim.CLAIMED
    assert reconciler.sweep().redriven == []  # lease still live
    time.sleep(0.3)
    report = reconciler.sweep()
    assert report.redriven == [job_id]
    [redriven] = queued_ids(client)
    assert redriven.startswith(f"{job_id}.vision~")
    assert store.claim(job_id, "vision", "rescuer", lease_s=30, max_deliveries=5) is Claim.CLAIMED
    assert reconciler.sweep().redriven == []


def test_given_a_waiting_job_then_redriven_only_when_its_message_is_gone(
    parts: tuple[JobStore, Reconciler, redis.Redis],
) -> None:
    store, reconciler, client = parts
    job_id = new_job(store, grace_s=0.2)
    reconciler.relay()
    time.sleep(0.3)
    report = reconciler.sweep()
    assert report.redriven == [] and report.extended == 1  # still in the queue: left alone
    client.flushall()  # the broker lost it (restart without persistence)
    time.sleep(0.6)
    assert reconciler.sweep().redriven == [job_id]
    assert len(queued_ids(client)) == 1


def test_given_a_hand_off_then_the_next_stage_message_is_in_the_outbox(
    parts: tuple[JobStore, Reconciler, redis.Redis],
) -> None:
    store, reconciler, client = parts
    job_id = new_job(store)
    reconciler.relay()
    store.claim(job_id, "vision", "w1", lease_s=30, max_deliveries=5)
    message = Message("p2p.language", [job_id, {"garments": []}, {}, 0.0], f"{job_id}.language")
    assert store.hand_off(job_id, "language", message)
    assert not store.hand_off(job_id, "language", message)  # a redelivered vision task hands off once
    assert store.claim(job_id, "vision", "w2", lease_s=30, max_deliveries=5) is Claim.DONE
    reconciler.relay()
    assert queued_ids(client, "language") == [f"{job_id}.language"]


def test_given_a_callback_then_the_webhook_is_in_its_own_outbox_and_sent_as_a_task(
    parts: tuple[JobStore, Reconciler, redis.Redis],
) -> None:
    store, reconciler, client = parts
    job_id = new_job(store, callback_url="http://127.0.0.1:9/hook")
    store.claim(job_id, "vision", "w1", lease_s=30, max_deliveries=5)
    assert store.save_result(job_id, {"caption": "x", "hashtags": []})
    assert not store.save_result(job_id, {"caption": "y", "hashtags": []})  # written once
    outbox = OutboxStore(store)
    [delivery] = outbox.webhooks_of(job_id)
    assert delivery.state == "pending" and delivery.url == "http://127.0.0.1:9/hook"
    client.delete("vision")
    assert reconciler.sweep().webhooks == 1
    assert reconciler.sweep().webhooks == 0  # taken: not sent twice
    assert [task_id.split(".")[0] for task_id in queued_ids(client, "language")] == [delivery.id]
    store.set_callback(job_id, "http://127.0.0.1:9/new-hook")  # a resubmission after the end: delivered too
    assert [d.url for d in outbox.webhooks_of(job_id)] == ["http://127.0.0.1:9/hook", "http://127.0.0.1:9/new-hook"]


def test_given_racing_workers_then_one_claim_one_result_one_webhook(
    parts: tuple[JobStore, Reconciler, redis.Redis],
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    store, _, _ = parts
    job_id = new_job(store, callback_url="http://127.0.0.1:9/hook")
    with ThreadPoolExecutor(8) as pool:
        claims = list(pool.map(lambda n: store.claim(job_id, "vision", f"w{n}", lease_s=30, max_deliveries=5),
                               range(8)))
        assert claims.count(Claim.CLAIMED) == 1 and claims.count(Claim.BUSY) == 7
        written = list(pool.map(lambda n: store.save_result(job_id, {"caption": str(n), "hashtags": []}), range(8)))
    assert written.count(True) == 1
    assert len(OutboxStore(store).webhooks_of(job_id)) == 1
