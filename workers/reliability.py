"""The reliability parts of one worker process: the lease heartbeat of the jobs it holds, and a relay/reconciler
thread (publishes what a crash left in the outbox, re-drives jobs whose worker died or whose message was lost,
sends due webhooks). Built once per process, on first use or when the worker starts."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

import redis
from celery import Celery
from kombu import Connection

from shared.celery_config import WEBHOOK_TASK
from shared.reconcile import Reconciler, ReconcilerThread, build_reconciler
from shared.settings import Settings
from shared.store import JobStore
from shared.store.repository import Message
from workers.leases import LeaseKeeper

log = logging.getLogger(__name__)


@dataclass
class Reliability:
    keeper: LeaseKeeper
    reconciler: Reconciler
    sweeper: ReconcilerThread
    publisher: Publisher

    @property
    def holder(self) -> str:
        return self.keeper.holder

    def publish_now(self, job_id: str, *, webhooks: bool = True) -> None:
        """Publish the job's new outbox messages and (unless the caller wrote none: `webhooks=False`, a stage
        hand-off) due webhooks now; on failure the sweep does it later."""
        try:
            self.reconciler.relay(job_id=job_id)
            if webhooks:
                self.reconciler.send_due_webhooks()
        except Exception:  # committed in the outbox: nothing is lost
            log.warning("could not publish for job %s now; the reconciler will", job_id, exc_info=True)

    def stop(self) -> None:
        self.sweeper.stop()
        self.keeper.stop()
        self.publisher.close()


class Publisher:
    """Sends outbox messages over one broker connection of its own, kept open between messages (opening one per
    message cost a Redis connect and a kombu channel per job: the largest per-job cost in the worker's profile).

    Its own connection, not the app's shared producer pool: kombu's Redis channels are not thread-safe, and after
    a broker restart a pooled connection shared with the worker's threads could block the relay for good (the
    Redis-restart fault test caught it). So one lock serialises its users (a publish takes about a millisecond),
    the socket has a timeout, and a failed publish closes the connection: the next one starts a fresh one."""

    def __init__(self, celery: Celery) -> None:
        self._celery = celery
        self._lock = threading.Lock()
        self._connection: Connection | None = None

    def __call__(self, message: Message) -> None:
        with self._lock:
            if self._connection is None:
                self._connection = self._celery.connection_for_write(transport_options=_PUBLISH_TRANSPORT)
            try:
                self._celery.send_task(message.task, args=message.args, task_id=message.task_id,
                                       connection=self._connection)
            except BaseException:
                self._close()
                raise

    def close(self) -> None:
        with self._lock:
            self._close()

    def _close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.release()
            except Exception:  # already broken: nothing to give back
                log.debug("closing the publisher's broker connection failed", exc_info=True)


PUBLISH_TIMEOUT_S = 5.0
_PUBLISH_TRANSPORT = {"socket_timeout": PUBLISH_TIMEOUT_S, "socket_connect_timeout": PUBLISH_TIMEOUT_S}
_lock = threading.Lock()
_current: Reliability | None = None


def for_process(settings: Settings, store: JobStore, celery: Celery) -> Reliability:
    """This process's reliability parts, started on first call."""
    global _current
    with _lock:
        if _current is None:
            client = redis.Redis.from_url(settings.broker_url, socket_timeout=PUBLISH_TIMEOUT_S,
                                          socket_connect_timeout=PUBLISH_TIMEOUT_S)

            queues, publisher = (settings.vision_queue, settings.language_queue), Publisher(celery)
            reconciler = build_reconciler(store, publisher, client, queues,
                                          grace_s=settings.queue_wait_grace_s, webhook_task=WEBHOOK_TASK)
            sweeper = ReconcilerThread(reconciler, settings.reconcile_interval_s)
            sweeper.start()
            _current = Reliability(LeaseKeeper(store, settings.job_lease_s), reconciler, sweeper, publisher)
        return _current
