"""Job store operations: idempotent creation, state changes, results written once, queries by id and SKU."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from shared.store.db import engine_for
from shared.store.models import Job, JobState, utcnow


def idempotency_key(image_sha256: str, sku: str | None, options: dict[str, Any]) -> str:
    """The same image, SKU and options always give the same key (options compared as canonical JSON)."""
    canonical = json.dumps({"image": image_sha256, "sku": sku, "options": options}, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class NewJob:
    image_sha256: str
    image_ref: str
    sku: str | None = None
    title: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    callback_url: str | None = None

    @property
    def key(self) -> str:
        return idempotency_key(self.image_sha256, self.sku, self.options)


class JobStore:
    """All reads and writes of jobs. Thread-safe: each call uses its own session."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._sessions = sessionmaker(engine_for(url), expire_on_commit=False)

    @contextmanager
    def _session(self) -> Iterator[Session]:
        with self._sessions() as session, session.begin():
            yield session

    def find_by_key(self, key: str) -> Job | None:
        with self._session() as session:
            return session.scalars(select(Job).where(Job.idempotency_key == key)).first()

    def create_or_get(self, new: NewJob) -> tuple[Job, bool]:
        """The job for this idempotency key: (job, True) when created now, (existing job, False) if not."""
        existing = self.find_by_key(new.key)
        if existing is not None:
            return existing, False
        now = utcnow()
        job = Job(
            id=uuid.uuid4().hex, idempotency_key=new.key, state=JobState.QUEUED.value, sku=new.sku,
            title=new.title, image_sha256=new.image_sha256, image_ref=new.image_ref, options=new.options,
            callback_url=new.callback_url, deliveries=0, created_at=now, updated_at=now,
        )
        try:
            with self._session() as session:
                session.add(job)
        except IntegrityError:
            # another request created the same job between our read and our insert
            raced = self.find_by_key(new.key)
            if raced is None:
                raise
            return raced, False
        return job, True

    def delete(self, job_id: str) -> None:
        """Forget a job that could not be queued (so a retry by the client starts clean)."""
        with self._session() as session:
            job = session.get(Job, job_id)
            if job is not None:
                session.delete(job)

    def get(self, job_id: str) -> Job | None:
        with self._session() as session:
            return session.get(Job, job_id)

    def by_sku(self, sku: str, *, limit: int = 100) -> list[Job]:
        with self._session() as session:
            query = select(Job).where(Job.sku == sku).order_by(Job.created_at.desc()).limit(limit)
            return list(session.scalars(query))

    def mark_running(self, job_id: str) -> bool:
        """Count a delivery; move a queued job to running. False when the job is unknown or already final."""
        now = utcnow()
        with self._session() as session:
            outcome = session.execute(
                update(Job)
                .where(Job.id == job_id, Job.state.in_([JobState.QUEUED.value, JobState.RUNNING.value]))
                .values(state=JobState.RUNNING.value, deliveries=Job.deliveries + 1,
                        started_at=func.coalesce(Job.started_at, now), updated_at=now)
            )
            return bool(outcome.rowcount)  # type: ignore[attr-defined]

    def save_result(self, job_id: str, result: dict[str, Any]) -> bool:
        """Write the result once: True when written now, False when the job was already final (redelivery)."""
        return self._finish(job_id, state=JobState.SUCCEEDED, result=result)

    def save_failure(self, job_id: str, code: str, message: str) -> bool:
        """Record a failure once: True when written now, False when the job was already final."""
        return self._finish(job_id, state=JobState.FAILED, error_code=code, error_message=message[:2000])

    def _finish(self, job_id: str, *, state: JobState, **values: Any) -> bool:
        now = utcnow()
        with self._session() as session:
            outcome = session.execute(
                update(Job)
                .where(Job.id == job_id, Job.state.in_([JobState.QUEUED.value, JobState.RUNNING.value]))
                .values(state=state.value, finished_at=now, updated_at=now, **values)
            )
            return bool(outcome.rowcount)  # type: ignore[attr-defined]

    def counts_by_state(self) -> dict[str, int]:
        with self._session() as session:
            rows = session.execute(select(Job.state, func.count()).group_by(Job.state)).all()
        counts = {state.value: 0 for state in JobState}
        counts.update({state: count for state, count in rows})
        return counts
