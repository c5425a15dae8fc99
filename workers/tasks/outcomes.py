"""How a stage takes and ends a job: the claim (with its lease, and the bounded number of deliveries), metrics,
the failure (code + message) in the job store, and the completion webhook, queued in the same transaction that
finished the job (its own outbox: `webhook_deliveries`) and sent at least once."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import kombu.exceptions
import redis.exceptions
import sqlalchemy.exc

from shared.errors import P2PError
from shared.store import JobStore
from shared.store.repository import Claim
from workers.metrics import JOBS
from workers.reliability import Reliability

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
