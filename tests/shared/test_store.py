"""The job store on SQLite and the real PostgreSQL: migrations, idempotency, write-once results, queries."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy

from shared.ports import free_port
from shared.store import JobState, JobStore, NewJob, engine_for, migrate, migrate_when_reachable

SHA = "a" * 64
SAME = {"a": 1, "tone": "fun"}


def test_given_a_migrated_database_when_migrating_again_then_nothing_changes(database_url: str) -> None:
    migrate(database_url)
    tables = sqlalchemy.inspect(engine_for(database_url)).get_table_names()
    assert {"jobs", "alembic_version"} <= set(tables)


def test_given_no_database_listening_when_a_process_starts_then_it_retries_for_the_wait_then_raises() -> None:
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/postgres?connect_timeout=2"
    started = time.monotonic()
    with pytest.raises(sqlalchemy.exc.OperationalError, match="refused"):
        migrate_when_reachable(url, wait_s=1.5, retry_every_s=0.5)
    assert 1.0 <= time.monotonic() - started < 10  # it waited (retries), then gave up


def test_given_the_same_image_sku_and_options_when_submitted_twice_then_one_job(database_url: str) -> None:
    store = JobStore(database_url)
    first, created = store.create_or_get(NewJob(SHA, "blob:x", sku="SKU-1", options={"tone": "fun", "a": 1}))
    again, created_again = store.create_or_get(NewJob(SHA, "blob:x", sku="SKU-1", options=SAME))
    other, created_other = store.create_or_get(NewJob(SHA, "blob:x", sku="SKU-2", options=SAME))
    assert created and not created_again and created_other
    assert again.id == first.id
    assert other.id != first.id


def test_given_concurrent_identical_submissions_when_racing_then_all_get_one_job(database_url: str) -> None:
    store = JobStore(database_url)
    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(lambda _: store.create_or_get(NewJob(SHA, "blob:x", sku="RACE")), range(16)))
    assert len({job.id for job, _ in outcomes}) == 1
    assert sum(created for _, created in outcomes) == 1


def test_given_a_running_job_when_the_result_is_redelivered_then_the_first_stays(database_url: str) -> None:
    store = JobStore(database_url)
    job, _ = store.create_or_get(NewJob(SHA, "blob:x", sku="S"))
    assert store.get(job.id).state == JobState.QUEUED  # type: ignore[union-attr]
    assert store.mark_running(job.id)
    assert store.mark_running(job.id)  # a redelivery counts again
    assert store.save_result(job.id, {"caption": "first"})
    assert not store.save_result(job.id, {"caption": "second"})
    assert not store.save_failure(job.id, "late", "a late failure must not overwrite a result")
    assert not store.mark_running(job.id)
    saved = store.get(job.id)
    assert saved is not None
    assert saved.state == JobState.SUCCEEDED
    assert saved.result == {"caption": "first"}
    assert saved.deliveries == 2
    assert saved.error_code is None
    assert saved.finished_at is not None


def test_given_a_failure_when_recorded_then_code_and_message_are_public(database_url: str) -> None:
    store = JobStore(database_url)
    job, _ = store.create_or_get(NewJob(SHA, "blob:x"))
    assert store.save_failure(job.id, "invalid_image", "not a readable image")
    public = store.get(job.id).view().body()  # type: ignore[union-attr]
    assert public["status"] == "failed"
    assert public["error"] == {"code": "invalid_image", "message": "not a readable image"}
    assert "result" not in public


def test_given_jobs_of_two_skus_when_queried_by_sku_then_only_that_sku(database_url: str) -> None:
    store = JobStore(database_url)
    for index in range(3):
        store.create_or_get(NewJob(f"{index:064x}", "blob:x", sku="RED-DRESS"))
    store.create_or_get(NewJob("f" * 64, "blob:x", sku="BLUE-JEANS"))
    assert len(store.by_sku("RED-DRESS")) == 3
    assert [job.sku for job in store.by_sku("BLUE-JEANS")] == ["BLUE-JEANS"]
    assert store.by_sku("NOPE") == []
    assert store.counts_by_state()["queued"] == 4
    assert store.get("0" * 32) is None


def test_given_many_threads_claiming_the_same_jobs_then_each_job_is_claimed_once(database_url: str) -> None:
    """SQLite's transactions take turns on a lock in the process (two stores of one file share it): the claims,
    hand-offs and their racing duplicates still end with each job taken once and handed on once."""
    from shared.store.repository import Claim, Message

    jobs = [JobStore(database_url).create_or_get(NewJob(SHA, "blob:x", sku=f"MANY-{n}"))[0].id for n in range(8)]
    stores = [JobStore(database_url), JobStore(database_url)]

    def take(n: int) -> tuple[str, Claim, bool]:
        store, job_id = stores[n % 2], jobs[n % len(jobs)]
        claim = store.claim(job_id, "vision", f"worker-{n}", lease_s=60, max_deliveries=5)
        handed = claim is Claim.CLAIMED and store.hand_off(
            job_id, "language", Message("p2p.language", [job_id], f"{job_id}.language"))
        return job_id, claim, handed

    with ThreadPoolExecutor(12) as pool:
        outcomes = list(pool.map(take, range(4 * len(jobs))))
    for job_id in jobs:
        mine = [(claim, handed) for taken, claim, handed in outcomes if taken == job_id]
        assert sum(handed for _, handed in mine) == 1, mine
        assert JobStore(database_url).get(job_id).stage == "language"  # type: ignore[union-attr]
