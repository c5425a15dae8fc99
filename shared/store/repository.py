"""Job store operations: idempotent creation (with its first task message, in one transaction), claims with
leases and a bounded number of deliveries, results written once (with their webhook, in one transaction),
queries by id and SKU within a tenant."""

from __future__ import annotations

import enum
import hashlib
import json
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from shared.store.db import engine_for
from shared.store.models import Job, JobState, OutboxMessage, WebhookDelivery, utcnow

DEFAULT_TENANT = "default"
ACTIVE_STATES = (JobState.QUEUED.value, JobState.RUNNING.value)
TOO_MANY_DELIVERIES = "too_many_deliveries"


def idempotency_key(
    image_sha256: str, sku: str | None, options: dict[str, Any], tenant: str = DEFAULT_TENANT
) -> str:
    """The same image, SKU and options always give the same key (options compared as canonical JSON); tenants
    never share a job (the default tenant keeps the keys of before tenants existed)."""
    fields: dict[str, Any] = {"image": image_sha256, "sku": sku, "options": options}
    if tenant != DEFAULT_TENANT:
        fields["tenant"] = tenant
    canonical = json.dumps(fields, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class NewJob:
    image_sha256: str
    image_ref: str
    sku: str | None = None
    title: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    callback_url: str | None = None
    tenant: str = DEFAULT_TENANT

    @property
    def key(self) -> str:
        return idempotency_key(self.image_sha256, self.sku, self.options, self.tenant)


@dataclass(frozen=True)
class Message:
    """A task message: Celery task name, arguments and task id."""

    task: str
    args: list[Any]
    task_id: str


class Claim(enum.StrEnum):
    CLAIMED = "claimed"  # this worker runs the stage now
    BUSY = "busy"  # another live worker holds the job (a duplicate message): skip it
    DONE = "done"  # unknown job, already final, or past this stage: skip it
    EXHAUSTED = "exhausted"  # delivered too often (a poison input): the job is failed now


class JobStore:
    """All reads and writes of jobs. Thread-safe: each call uses its own session."""

    def __init__(self, url: str) -> None:
        self.url = url
        engine = engine_for(url)
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._serial: AbstractContextManager[Any] = _sqlite_lock(engine) if engine.dialect.name == "sqlite" \
            else nullcontext()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction. On SQLite the transactions of this process take turns on a lock: SQLite has one
        writer at a time anyway, and a writer that finds it busy sleeps in SQLite's busy handler (in steps of up
        to 100 ms) instead of starting when the lock frees; the worker's threads finishing a batch together spent
        most of their hand-off there. Other processes still wait on `busy_timeout`."""
        with self._serial, self._sessions() as session, session.begin():
            yield session

    _session = session

    def find_by_key(self, key: str) -> Job | None:
        with self._session() as session:
            return session.scalars(select(Job).where(Job.idempotency_key == key)).first()

    def create_or_get(
        self, new: NewJob, message: Callable[[str], Message] | None = None, *, wait_grace_s: float = 60.0
    ) -> tuple[Job, bool]:
        """The job for this idempotency key: (job, True) when created now, (existing job, False) if not.

        `message(job_id)` is the job's first task message: written to the outbox in the same transaction, so an
        accepted job always has one (a relay publishes it)."""
        existing = self.find_by_key(new.key)
        if existing is not None:
            return existing, False
        now = utcnow()
        job = Job(
            id=uuid.uuid4().hex, idempotency_key=new.key, state=JobState.QUEUED.value, sku=new.sku,
            title=new.title, image_sha256=new.image_sha256, image_ref=new.image_ref, options=new.options,
            callback_url=new.callback_url, deliveries=0, created_at=now, updated_at=now, tenant=new.tenant,
            stage="vision", lease_until=now + timedelta(seconds=wait_grace_s),
        )
        try:
            with self._session() as session:
                session.add(job)
                session.flush()
                if message is not None:
                    session.add(outbox_row(job.id, message(job.id), now))
        except IntegrityError:
            # another request created the same job between our read and our insert
            raced = self.find_by_key(new.key)
            if raced is None:
                raise
            return raced, False
        return job, True

    def delete(self, job_id: str) -> None:
        """Forget a job (and its messages)."""
        with self._session() as session:
            job = session.get(Job, job_id)
            if job is not None:
                session.delete(job)
            session.execute(update(OutboxMessage).where(OutboxMessage.job_id == job_id)
                            .values(published_at=utcnow()))

    def get(self, job_id: str, tenant: str | None = None) -> Job | None:
        """The job; with `tenant`, only when it belongs to that tenant."""
        with self._session() as session:
            job = session.get(Job, job_id)
        if job is None or (tenant is not None and job.tenant != tenant):
            return None
        return job

    def by_sku(self, sku: str, *, limit: int = 100, tenant: str | None = None) -> list[Job]:
        with self._session() as session:
            query = select(Job).where(Job.sku == sku)
            if tenant is not None:
                query = query.where(Job.tenant == tenant)
            return list(session.scalars(query.order_by(Job.created_at.desc()).limit(limit)))

    def mark_running(self, job_id: str) -> bool:
        """Count a delivery; move a queued job to running. False when the job is unknown or already final."""
        now = utcnow()
        with self._session() as session:
            outcome = session.execute(
                update(Job)
                .where(Job.id == job_id, Job.state.in_(ACTIVE_STATES))
                .values(state=JobState.RUNNING.value, deliveries=Job.deliveries + 1,
                        started_at=func.coalesce(Job.started_at, now), updated_at=now)
            )
            return bool(outcome.rowcount)  # type: ignore[attr-defined]

    def claim(self, job_id: str, stage: str, holder: str, *, lease_s: float, max_deliveries: int) -> Claim:
        """Take the job for `stage` with a lease (kept alive by `renew`); see `Claim` for the outcomes.

        Each outcome is one conditional UPDATE, so two workers can never both take a job (SQLite included, where
        a read-then-write would race)."""
        now = utcnow()
        active = Job.state.in_(ACTIVE_STATES)
        this_stage = or_(Job.stage.is_(None), Job.stage == stage)
        free = or_(Job.holder.is_(None), Job.holder == holder, Job.lease_until.is_(None), Job.lease_until < now)
        with self._session() as session:
            taken = session.execute(
                update(Job).where(Job.id == job_id, active, this_stage, free, Job.deliveries < max_deliveries)
                .values(state=JobState.RUNNING.value, stage=stage, holder=holder, deliveries=Job.deliveries + 1,
                        lease_until=now + timedelta(seconds=lease_s), started_at=func.coalesce(Job.started_at, now),
                        updated_at=now)
                .execution_options(synchronize_session=False)
            )
            if taken.rowcount:  # type: ignore[attr-defined]
                return Claim.CLAIMED
            exhausted = session.execute(
                update(Job).where(Job.id == job_id, active, this_stage, free, Job.deliveries >= max_deliveries)
                .values(state=JobState.FAILED.value, finished_at=now, updated_at=now, holder=None, lease_until=None,
                        error_code=TOO_MANY_DELIVERIES,
                        error_message=f"the {stage} stage was delivered {max_deliveries} times without finishing "
                                      "(the worker died each time: a poison input or an overloaded worker)")
                .execution_options(synchronize_session=False)
            )
            job = session.get(Job, job_id)
            if exhausted.rowcount and job is not None:  # type: ignore[attr-defined]
                _queue_webhook(session, job, now)
                return Claim.EXHAUSTED
            if job is None or job.state not in ACTIVE_STATES or (job.stage and job.stage != stage):
                return Claim.DONE
            return Claim.BUSY

    def renew(self, job_ids: Sequence[str], holder: str, *, lease_s: float) -> int:
        """Extend the leases `holder` has on these jobs (the heartbeat of a live worker)."""
        if not job_ids:
            return 0
        with self._session() as session:
            outcome = session.execute(
                update(Job).where(Job.id.in_(list(job_ids)), Job.holder == holder, Job.state.in_(ACTIVE_STATES))
                .values(lease_until=utcnow() + timedelta(seconds=lease_s))
            )
            return int(outcome.rowcount)  # type: ignore[attr-defined]

    def release(self, job_id: str, holder: str, *, grace_s: float) -> None:
        """Give a claim back (the stage hit a transient error and its task will be retried)."""
        with self._session() as session:
            session.execute(
                update(Job).where(Job.id == job_id, Job.holder == holder, Job.state.in_(ACTIVE_STATES))
                .values(holder=None, lease_until=utcnow() + timedelta(seconds=grace_s))
            )

    def hand_off(self, job_id: str, stage: str, message: Message, *, wait_grace_s: float = 60.0) -> bool:
        """Pass a running job on to `stage` and write that stage's message, in one transaction."""
        now = utcnow()
        with self._session() as session:
            outcome = session.execute(
                update(Job).where(Job.id == job_id, Job.state == JobState.RUNNING.value,
                                  or_(Job.stage.is_(None), Job.stage != stage))
                .values(stage=stage, holder=None, lease_until=now + timedelta(seconds=wait_grace_s),
                        updated_at=now, deliveries=0)  # each stage has its own bound
            )
            if not outcome.rowcount:  # type: ignore[attr-defined]
                return False
            session.add(outbox_row(job_id, message, now))
            return True

    def save_result(self, job_id: str, result: dict[str, Any]) -> bool:
        """Write the result once: True when written now, False when the job was already final (redelivery)."""
        return self._finish(job_id, state=JobState.SUCCEEDED, result=result)

    def save_failure(self, job_id: str, code: str, message: str) -> bool:
        """Record a failure once: True when written now, False when the job was already final."""
        return self._finish(job_id, state=JobState.FAILED, error_code=code, error_message=message[:2000])

    def _finish(self, job_id: str, *, state: JobState, **values: Any) -> bool:
        """One conditional UPDATE (only an active job finishes, once), the webhook in the same transaction."""
        now = utcnow()
        with self._session() as session:
            done = session.execute(
                update(Job).where(Job.id == job_id, Job.state.in_(ACTIVE_STATES))
                .values(state=state.value, finished_at=now, updated_at=now, holder=None, lease_until=None, **values)
                .execution_options(synchronize_session=False)
            )
            if not done.rowcount:  # type: ignore[attr-defined]
                return False
            job = session.get(Job, job_id)
            if job is not None:
                _queue_webhook(session, job, now)
            return True

    def set_callback(self, job_id: str, callback_url: str) -> Job | None:
        """A resubmission's new callback URL: used when the job finishes, or delivered now if it already has
        (a conditional UPDATE decides which, so a job finishing meanwhile cannot drop it)."""
        now = utcnow()
        with self._session() as session:
            still_active = session.execute(
                update(Job).where(Job.id == job_id, Job.state.in_(ACTIVE_STATES))
                .values(callback_url=callback_url, updated_at=now).execution_options(synchronize_session=False)
            )
            job = session.get(Job, job_id)
            if job is None or still_active.rowcount or job.callback_url == callback_url:  # type: ignore[attr-defined]
                return job
            job.callback_url, job.updated_at = callback_url, now
            _queue_webhook(session, job, now)
            return job

    def counts_by_state(self) -> dict[str, int]:
        with self._session() as session:
            rows = session.execute(select(Job.state, func.count()).group_by(Job.state)).all()
        counts = {state.value: 0 for state in JobState}
        counts.update({state: count for state, count in rows})
        return counts


_sqlite_locks: dict[Engine, threading.RLock] = {}
_sqlite_locks_guard = threading.Lock()


def _sqlite_lock(engine: Engine) -> threading.RLock:
    """One lock per SQLite engine (database file) in this process; re-entrant, as a session may open another."""
    with _sqlite_locks_guard:
        return _sqlite_locks.setdefault(engine, threading.RLock())


def aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes (stored as UTC)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def outbox_row(job_id: str, message: Message, now: datetime) -> OutboxMessage:
    return OutboxMessage(job_id=job_id, task=message.task, task_id=message.task_id, args=message.args,
                         created_at=now)


def _queue_webhook(session: Session, job: Job, now: datetime) -> None:
    """The completion webhook, in the transaction that finished the job (the relay sends it)."""
    if job.callback_url:
        session.add(WebhookDelivery(id=uuid.uuid4().hex, job_id=job.id, url=job.callback_url, state="pending",
                                    attempts=0, next_attempt_at=now, created_at=now))
