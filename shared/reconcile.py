"""The relay and the reconciler: what makes an accepted job impossible to lose.

- relay: publishes outbox messages that are not published yet (the API or a worker died between its commit and
  its publish, or the broker was away);
- reconciler: re-drives active jobs whose lease lapsed: a job held by a worker that stopped renewing its lease
  (SIGKILL, lost node) gets a fresh message at once; a job waiting in a queue gets one only when its message is
  no longer in the broker (lost by a broker restart without persistence, or stranded on a dead worker);
  a job delivered `job_max_deliveries` times fails with `too_many_deliveries` (see JobStore.claim);
- webhooks: due completion webhooks are sent as tasks, the due time pushed forward first.

Every worker process and the API run one in a thread; the store's compare-and-set steps make that safe.
Messages may be published twice (a crash after publishing, before marking): the stages' claims make a duplicate a
no-op, so each job is still done once.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import redis

from shared.store import JobStore
from shared.store.outbox import OutboxStore
from shared.store.repository import Message

log = logging.getLogger(__name__)

Publish = Callable[[Message], None]


@dataclass
class SweepReport:
    published: int = 0
    redriven: list[str] = field(default_factory=list)
    extended: int = 0
    webhooks: int = 0


class BrokerView:
    """Where a task message is in Redis right now: waiting in a queue list, or delivered to a worker and not
    acknowledged yet (kombu's `unacked` hash, with the delivery time in `unacked_index`)."""

    def __init__(self, client: redis.Redis, queues: Sequence[str]) -> None:
        self.client = client
        self.queues = list(queues)
        self._queued = b""
        self._unacked: dict[bytes, tuple[bytes, float]] = {}

    def refresh(self) -> None:
        queued: list[bytes] = []
        for queue in self.queues:
            queued.extend(_bytes(raw) for raw in cast(list[Any], self.client.lrange(queue, 0, -1)))
        self._queued = b"\n".join(queued)
        # casts: redis-py's sync/async union return types differ between its versions
        entries = cast(dict[Any, Any], self.client.hgetall("unacked"))
        index = cast(list[tuple[Any, float]], self.client.zrange("unacked_index", 0, -1, withscores=True))
        scores = {_bytes(tag): float(score) for tag, score in index}
        self._unacked = {_bytes(tag): (_bytes(raw), scores.get(_bytes(tag), 0.0)) for tag, raw in entries.items()}

    def queued(self, task_id: str) -> bool:
        return _id_marker(task_id) in self._queued

    def delivered_since(self, task_id: str) -> float | None:
        """When a worker took the message (unix time), None when no worker holds it."""
        marker = _id_marker(task_id)
        for raw, delivered_at in self._unacked.values():
            if marker in raw:
                return delivered_at
        return None


def _bytes(value: bytes | str) -> bytes:
    return value.encode() if isinstance(value, str) else value


def _id_marker(task_id: str) -> bytes:
    return json.dumps(task_id).encode()


class Reconciler:
    def __init__(
        self, store: JobStore, publish: Publish, broker: BrokerView, *, grace_s: float, webhook_task: str,
    ) -> None:
        self.outbox = OutboxStore(store)
        self.publish = publish
        self.broker = broker
        self.grace_s = grace_s
        self.webhook_task = webhook_task

    def relay(self, *, older_than_s: float = 0.0, job_id: str | None = None) -> int:
        """Publish unpublished outbox messages; a failed publish stays for the next pass."""
        return self.outbox.publish_pending(self.publish, older_than_s=older_than_s, job_id=job_id)

    def sweep(self) -> SweepReport:
        report = SweepReport(published=self.relay(older_than_s=2.0))
        lapsed = self.outbox.lapsed()
        if any(not job.held for job in lapsed):
            self.broker.refresh()
        for job in lapsed:
            if not job.held and self._message_alive(job.job_id):
                report.extended += self.outbox.extend(job, self.grace_s)
                continue
            message = self.outbox.redrive(job, self.grace_s)
            if message is not None:
                log.warning("re-driving job %s at the %s stage (%s)", job.job_id, job.stage,
                            "its worker stopped renewing the lease" if job.held else "its message is gone")
                report.redriven.append(job.job_id)
        report.published += self.relay()
        report.webhooks = self.send_due_webhooks()
        return report

    def _message_alive(self, job_id: str) -> bool:
        task_id = self.outbox.last_task_id(job_id)
        if task_id is None:
            return False
        if self.broker.queued(task_id):
            return True
        delivered_at = self.broker.delivered_since(task_id)
        # taken by a worker that never claimed it within the grace: that worker is gone (or wedged)
        return delivered_at is not None and time.time() - delivered_at < self.grace_s

    def send_due_webhooks(self) -> int:
        sent = 0
        for delivery in self.outbox.due_webhooks():
            # held for the longest a webhook task takes; it sets the real next attempt itself
            if self.outbox.take_webhook(delivery, hold_s=max(self.grace_s, 120.0)):
                self.publish(Message(self.webhook_task, [delivery.id], f"{delivery.id}.webhook.{delivery.attempts}"))
                sent += 1
        return sent


class ReconcilerThread(threading.Thread):
    """Runs `sweep` every `interval_s` until stopped; errors (database or broker away) are logged and retried."""

    def __init__(self, reconciler: Reconciler, interval_s: float) -> None:
        super().__init__(name="p2p-reconciler", daemon=True)
        self.reconciler = reconciler
        self.interval_s = interval_s
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.interval_s):
            try:
                report = self.reconciler.sweep()
            except Exception:  # keep sweeping through outages
                log.warning("reconciler sweep failed; retrying in %.0fs", self.interval_s, exc_info=True)
                continue
            if report.redriven or report.published or report.webhooks:
                log.info("reconciler: %s", report)

    def stop(self) -> None:
        self.stopped.set()


def build_reconciler(
    store: JobStore, publish: Publish, client: redis.Redis, queues: Sequence[str], *, grace_s: float,
    webhook_task: str,
) -> Reconciler:
    return Reconciler(store, publish, BrokerView(client, queues), grace_s=grace_s, webhook_task=webhook_task)
