"""How a stage ends a job: metrics, the failure (code + message) in the job store, and the completion
webhook when the job has a callback URL (sent once, by whichever stage finished the job)."""

from __future__ import annotations

import logging

import kombu.exceptions
import redis.exceptions
import sqlalchemy.exc
from celery import Celery

from shared.celery_config import WEBHOOK_TASK
from shared.errors import P2PError
from shared.store import JobStore
from workers.metrics import JOBS

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


def record_failure(app: Celery, store: JobStore, job_id: str, stage: str, exc: BaseException) -> None:
    """Mark the job failed with a machine-readable code; unexpected errors are logged with their traceback."""
    if isinstance(exc, P2PError):
        code, message = exc.code, str(exc)
    else:
        log.exception("%s stage failed on job %s", stage, job_id, exc_info=exc)
        code, message = "internal_error", f"{stage} stage failed: {type(exc).__name__}: {exc}"
    written = store.save_failure(job_id, code, message)
    record_outcome(stage, "failed")
    if written:
        notify(app, store, job_id)


def notify(app: Celery, store: JobStore, job_id: str) -> None:
    """Queue the completion webhook if the job asked for one."""
    job = store.get(job_id)
    if job is not None and job.callback_url:
        app.send_task(WEBHOOK_TASK, args=[job_id], task_id=f"{job_id}.webhook")
