"""`p2p.language`: caption + hashtags from the evidence pack; the result is written once (a redelivered
task does not write a second one). Many run at once on a `threads` pool; the LLM client rate-limits
each endpoint (llm_rate_limit_per_s) across those threads."""

from __future__ import annotations

import time
from typing import Any

from celery import Task

from shared.celery_config import LANGUAGE_TASK
from shared.schemas import EvidencePack, ShopMetadata
from shared.store.models import FINAL_STATES
from workers.celery_app import app
from workers.metrics import LLM_ATTEMPTS, LLM_FALLBACKS, QUEUE_WAIT_SECONDS, STAGE_SECONDS
from workers.runtime import current
from workers.tasks.outcomes import RETRY_OPTIONS, notify, record_failure, record_outcome


@app.task(name=LANGUAGE_TASK, bind=True, **RETRY_OPTIONS)
def language_job(
    self: Task, job_id: str, pack: dict[str, Any], meta: dict[str, Any], enqueued_at: float
) -> dict[str, Any]:
    started = time.time()
    QUEUE_WAIT_SECONDS.labels("language").observe(max(0.0, started - enqueued_at))
    runtime = current()
    store = runtime.store
    job = store.get(job_id)
    if job is None or job.state in FINAL_STATES:
        record_outcome("language", "skipped")
        return {"job_id": job_id, "skipped": "job unknown or already final"}
    try:
        evidence = EvidencePack.model_validate(pack)
        shop = ShopMetadata.model_validate(meta) if meta else None
        result = runtime.caption_writer().write(evidence, shop)
    except Exception as exc:
        record_failure(self.app, store, job_id, "language", exc)
        raise
    written = store.save_result(job_id, result.model_dump(mode="json"))
    STAGE_SECONDS.labels("language").observe(time.time() - started)
    LLM_ATTEMPTS.inc(result.provenance.attempts)
    if result.provenance.fallback:
        LLM_FALLBACKS.inc()
    record_outcome("language", "succeeded" if written else "skipped")
    if written:
        notify(self.app, store, job_id)
    return {"job_id": job_id, "written": written, "fallback": result.provenance.fallback}
