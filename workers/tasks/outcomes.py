"""How a stage takes and ends a job: the claim (with its lease, and the bounded number of deliveries), metrics,
the failure (code + message) in the job store, and the completion webhook, queued in the same transaction that
finished the job (its own outbox: `webhook_deliveries`) and sent at least once.

Every stage task has the same frame, written once here: `take` (queue wait, claim) -> `with job.held():` (the stage's
own work, lease kept alive) -> `job.finish()` (stage time, outcome, publish what the stage committed)."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass

import kombu.exceptions
import redis.exceptions
import sqlalchemy.exc
from celery import Celery

from shared.errors import P2PError
from shared.store import JobStore
from shared.store.repository import Claim
from workers.metrics import JOBS, QUEUE_WAIT_SECONDS, STAGE_SECONDS
from workers.reliability import Reliability, for_process
from workers.runtime import WorkerRuntime, current

log = logging.getLogger(__name__)

# the database or the broker briefly away: the task is retried (with backoff) instead of failing the job
TRANSIENT_ERRORS: tuple[type[Exception], ...] = (
    sqlalchemy.exc.OperationalError, kombu.exceptions.OperationalError, redis.exceptions.ConnectionError,
)
RETRY_OPTIONS: dict[str, object] = {
    "autoretry_for": TRANSIENT_ERRORS, "retry_backoff": 5, "retry_backoff_max": 300, "retry_jitter": True,
    "max_retries": 5,
}


def record_outcome(stage: str, outcome: str) -> None:
    JOBS.labels(stage, outcome).inc()


@dataclass(frozen=True)
class TakenJob:
    """A job this delivery has claimed for `stage`, with the process parts its stage works with."""

    job_id: str
    stage: str
    runtime: WorkerRuntime
    reliability: Reliability
    started: float

    def held(self) -> AbstractContextManager[None]:
        """The stage's work, with the lease kept alive (see `held`)."""
        return held(self.reliability, self.runtime.store, self.job_id, self.stage)

    def finish(self, *, written: bool = True, webhooks: bool = True) -> None:
        """Count the stage's time and outcome; publish what it committed (the hand-off or the webhook) now.
        `written=False`: another delivery finished the job first (nothing new to publish); `webhooks=False`: the
        stage queued no webhook (a hand-off to the next stage), so the due-webhook query is skipped."""
        STAGE_SECONDS.labels(self.stage).observe(time.time() - self.started)
        record_outcome(self.stage, "succeeded" if written else "skipped")
        if written:
            self.reliability.publish_now(self.job_id, webhooks=webhooks)


def take(celery: Celery, job_id: str, stage: str, enqueued_at: float) -> TakenJob | None:
    """The start of every stage task: the queue wait is measured, this process's runtime and reliability parts are
    looked up, and the job is claimed for `stage`. None when this delivery has nothing to do (already counted)."""
    started = time.time()
    QUEUE_WAIT_SECONDS.labels(stage).observe(max(0.0, started - enqueued_at))
    runtime = current()
    settings = runtime.settings
    reliability = for_process(settings, runtime.store, celery)
    if not claim(reliability, runtime.store, job_id, stage, lease_s=settings.job_lease_s,
                 max_deliveries=settings.job_max_deliveries):
        return None
    return TakenJob(job_id, stage, runtime, reliability, started)


def claim(reliability: Reliability, store: JobStore, job_id: str, stage: str, *, lease_s: float,
          max_deliveries: int) -> bool:
    """Take the job for `stage`; False (with the outcome counted) when this delivery has nothing to do."""
    outcome = store.claim(job_id, stage, reliability.holder, lease_s=lease_s, max_deliveries=max_deliveries)
    if outcome is Claim.CLAIMED:
        return True
    if outcome is Claim.EXHAUSTED:
        log.error("job %s failed: delivered %d times to the %s stage", job_id, max_deliveries, stage)
        record_outcome(stage, "failed")
        reliability.publish_now(job_id)  # its webhook
    else:
        record_outcome(stage, "skipped")
    return False


@contextmanager
def held(reliability: Reliability, store: JobStore, job_id: str, stage: str) -> Iterator[None]:
    """Run the stage with the lease kept alive; a transient error gives the claim back for the retry, any other
    error fails the job with its code."""
    with reliability.keeper.holding(job_id):
        try:
            yield
        except TRANSIENT_ERRORS:
            try:
                store.release(job_id, reliability.holder, grace_s=0)
            except TRANSIENT_ERRORS:
                log.warning("could not release job %s; its lease lapses instead", job_id)
            raise
        except Exception as exc:
            record_failure(reliability, store, job_id, stage, exc)
            raise


def record_failure(reliability: Reliability, store: JobStore, job_id: str, stage: str, exc: BaseException) -> None:
    """Mark the job failed with a machine-readable code; unexpected errors are logged with their traceback."""
    if isinstance(exc, P2PError):
        code, message = exc.code, str(exc)
    else:
        log.exception("%s stage failed on job %s", stage, job_id, exc_info=exc)
        code, message = "internal_error", f"{stage} stage failed: {type(exc).__name__}: {exc}"
    if store.save_failure(job_id, code, message):
        reliability.publish_now(job_id)
    record_outcome(stage, "failed")
