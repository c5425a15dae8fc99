"""The outbox side of the store: messages not yet published, jobs whose lease lapsed, webhooks due.

Every taking step is a compare-and-set on the row (the lease or the due time it was read with), so several
relays and reconcilers may run at once and only one acts on each row."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, select, update

from shared.store.models import Job, OutboxMessage, WebhookDelivery, utcnow
from shared.store.repository import ACTIVE_STATES, JobStore, Message, aware, outbox_row

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Lapsed:
    """An active job whose lease ran out: held by a worker that stopped renewing, or waiting in a queue."""

    job_id: str
    stage: str
    held: bool
    lease_until: datetime
    deliveries: int


class OutboxStore:
    def __init__(self, store: JobStore) -> None:
        self.store = store

    def unpublished(
        self, *, older_than_s: float = 0.0, job_id: str | None = None, limit: int = 500
    ) -> list[OutboxMessage]:
        with self.store.session() as session:
            return list(session.scalars(self._unpublished(older_than_s, job_id, limit)))

    def publish_pending(
        self, publish: Callable[[Message], None], *, older_than_s: float = 0.0, job_id: str | None = None,
        limit: int = 500,
    ) -> int:
        """Publish unpublished messages and mark them, rows locked meanwhile (PostgreSQL: `SKIP LOCKED`, so
        relays running at once share the work instead of repeating it). A failed publish stops the pass; what
        was published is marked, the rest waits for the next pass."""
        published = 0
        with self.store.session() as session:
            query = self._unpublished(older_than_s, job_id, limit).with_for_update(skip_locked=True)
            for row in session.scalars(query):
                try:
                    publish(Message(row.task, list(row.args), row.task_id))
                except Exception:  # the broker away: the next pass retries
                    log.warning("publishing %s failed; it stays in the outbox", row.task_id, exc_info=True)
                    break
                row.published_at = utcnow()
                published += 1
        return published

    @staticmethod
    def _unpublished(older_than_s: float, job_id: str | None, limit: int) -> Select[Any]:
        cutoff = utcnow() - timedelta(seconds=older_than_s)
        query = select(OutboxMessage).where(OutboxMessage.published_at.is_(None), OutboxMessage.created_at <= cutoff)
        if job_id is not None:
            query = query.where(OutboxMessage.job_id == job_id)
        return query.order_by(OutboxMessage.id).limit(limit)

    def lapsed(self, *, limit: int = 500) -> list[Lapsed]:
        now = utcnow()
        with self.store.session() as session:
            query = (select(Job.id, Job.stage, Job.holder, Job.lease_until, Job.deliveries)
                     .where(Job.state.in_(ACTIVE_STATES), Job.lease_until < now)
                     .order_by(Job.lease_until).limit(limit))
            rows = session.execute(query).all()
        return [Lapsed(row[0], row[1] or "vision", row[2] is not None, aware(row[3]), row[4])
                for row in rows if row[3] is not None]

    def extend(self, lapsed: Lapsed, grace_s: float) -> bool:
        """The job's message is still in the broker: look again later."""
        return self._take(lapsed, grace_s)

    def redrive(self, lapsed: Lapsed, grace_s: float) -> Message | None:
        """Write a fresh copy of the job's latest message for its stage (the old one is lost or held by a dead
        worker); None when another reconciler took the job first or there is nothing to copy."""
        with self.store.session() as session:
            latest = session.scalars(
                select(OutboxMessage).where(OutboxMessage.job_id == lapsed.job_id)
                .order_by(OutboxMessage.id.desc()).limit(1)
            ).first()
            if latest is None or not self._take(lapsed, grace_s, session=session):
                return None
            base = latest.task_id.split("~")[0]
            message = Message(latest.task, list(latest.args), f"{base}~{lapsed.deliveries}.{_stamp()}")
            session.add(outbox_row(lapsed.job_id, message, utcnow()))
            return message

    def _take(self, lapsed: Lapsed, grace_s: float, session: Any = None) -> bool:
        statement = (update(Job).where(Job.id == lapsed.job_id, Job.lease_until == lapsed.lease_until,
                                       Job.state.in_(ACTIVE_STATES))
                     .values(holder=None, lease_until=utcnow() + timedelta(seconds=grace_s)))
        if session is not None:
            return bool(session.execute(statement).rowcount)
        with self.store.session() as own:
            return bool(own.execute(statement).rowcount)  # type: ignore[attr-defined]

    def last_task_id(self, job_id: str) -> str | None:
        with self.store.session() as session:
            return session.scalars(select(OutboxMessage.task_id).where(OutboxMessage.job_id == job_id)
                                   .order_by(OutboxMessage.id.desc()).limit(1)).first()

    # --- webhooks ---

    def due_webhooks(self, *, limit: int = 200) -> list[WebhookDelivery]:
        with self.store.session() as session:
            query = (select(WebhookDelivery).where(WebhookDelivery.state == "pending",
                                                   WebhookDelivery.next_attempt_at <= utcnow())
                     .order_by(WebhookDelivery.next_attempt_at).limit(limit))
            return list(session.scalars(query))

    def take_webhook(self, delivery: WebhookDelivery, hold_s: float) -> bool:
        """Push the due time forward before sending the task, so no other relay sends it too."""
        with self.store.session() as session:
            outcome = session.execute(
                update(WebhookDelivery).where(WebhookDelivery.id == delivery.id, WebhookDelivery.state == "pending",
                                              WebhookDelivery.next_attempt_at == delivery.next_attempt_at)
                .values(next_attempt_at=utcnow() + timedelta(seconds=hold_s))
            )
            return bool(outcome.rowcount)  # type: ignore[attr-defined]

    def webhook(self, delivery_id: str) -> WebhookDelivery | None:
        with self.store.session() as session:
            return session.get(WebhookDelivery, delivery_id)

    def webhooks_of(self, job_id: str) -> list[WebhookDelivery]:
        with self.store.session() as session:
            query = select(WebhookDelivery).where(WebhookDelivery.job_id == job_id)
            return list(session.scalars(query.order_by(WebhookDelivery.created_at)))

    def webhook_delivered(self, delivery_id: str, attempts: int) -> None:
        with self.store.session() as session:
            session.execute(update(WebhookDelivery).where(WebhookDelivery.id == delivery_id)
                            .values(state="delivered", attempts=WebhookDelivery.attempts + attempts,
                                    delivered_at=utcnow(), last_error=None))

    def webhook_failed(self, delivery_id: str, attempts: int, error: str, *, retry_in_s: float | None) -> None:
        """Record failed attempts: try again in `retry_in_s`, or give up (state failed) when None."""
        values: dict[str, Any] = {"attempts": WebhookDelivery.attempts + attempts, "last_error": error[:2000]}
        if retry_in_s is None:
            values["state"] = "failed"
        else:
            values["next_attempt_at"] = utcnow() + timedelta(seconds=retry_in_s)
        with self.store.session() as session:
            session.execute(update(WebhookDelivery).where(WebhookDelivery.id == delivery_id).values(**values))


def _stamp() -> str:
    return format(int(utcnow().timestamp() * 1000) % 10**8, "x")
