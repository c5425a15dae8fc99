"""Recording how a stage ended a job: metrics, and the failure (code + message) in the job store."""

from __future__ import annotations

import logging

from shared.errors import P2PError
from shared.store import JobStore
from workers.metrics import JOBS

log = logging.getLogger(__name__)


def record_outcome(stage: str, outcome: str) -> None:
    JOBS.labels(stage, outcome).inc()


def record_failure(store: JobStore, job_id: str, stage: str, exc: BaseException) -> None:
    """Mark the job failed with a machine-readable code; unexpected errors are logged with their traceback."""
    if isinstance(exc, P2PError):
        code, message = exc.code, str(exc)
    else:
        log.exception("%s stage failed on job %s", stage, job_id, exc_info=exc)
        code, message = "internal_error", f"{stage} stage failed: {type(exc).__name__}: {exc}"
    store.save_failure(job_id, code, message)
    record_outcome(stage, "failed")
