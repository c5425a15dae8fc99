"""The reliability parts of one worker process: the lease heartbeat of the jobs it holds, and a relay/reconciler
thread (publishes what a crash left in the outbox, re-drives jobs whose worker died or whose message was lost,
sends due webhooks). Built once per process, on first use or when the worker starts."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

import redis
from celery import Celery

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

    @property
    def holder(self) -> str:
        return self.keeper.holder

    def publish_now(self, job_id: str) -> None:
        """Publish the job's new outbox messages and due webhooks now; on failure the sweep does it later."""
        try:
            self.reconciler.relay(job_id=job_id)
            self.reconciler.send_due_webhooks()
        except Exception:  # committed in the outbox: nothing is lost
            log.warning("could not publish for job %s now; the reconciler will", job_id, exc_info=True)

    def stop(self) -> None:
        self.sweeper.stop()
        self.keeper.stop()


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

            def publish(message: Message) -> None:
                # a connection of its own, not the app's shared producer pool: kombu's Redis channels are not
                # thread-safe, and after a broker restart a pooled connection shared with the worker's threads
                # could block the relay for good (the Redis-restart fault test caught it)
                with celery.connection_for_write(transport_options=_PUBLISH_TRANSPORT) as connection:
                    celery.send_task(message.task, args=message.args, task_id=message.task_id,
                                     connection=connection)

            reconciler = build_reconciler(store, publish, client, (settings.vision_queue, settings.language_queue),
                                          grace_s=settings.queue_wait_grace_s, webhook_task=WEBHOOK_TASK)
            sweeper = ReconcilerThread(reconciler, settings.reconcile_interval_s)
            sweeper.start()
            _current = Reliability(LeaseKeeper(store, settings.job_lease_s), reconciler, sweeper)
        return _current
