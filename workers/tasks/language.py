"""`p2p.language`: caption + hashtags from the evidence pack; the job is claimed (leased while the LLM works,
deliveries bounded) and the result is written once, with its webhook in the same transaction. Many run at once on
a `threads` pool; the LLM client rate-limits each endpoint (llm_rate_limit_per_s) across those threads."""

from __future__ import annotations

import time
from typing import Any

from celery import Task

from shared.celery_config import LANGUAGE_TASK
from shared.schemas import EvidencePack, ShopMetadata
from workers.celery_app import app
from workers.metrics import LLM_ATTEMPTS, LLM_FALLBACKS, QUEUE_WAIT_SECONDS, STAGE_SECONDS
from workers.reliability import for_process
from workers.runtime import current
from workers.tasks.outcomes import RETRY_OPTIONS, claim, held, record_outcome


@app.task(name=LANGUAGE_TASK, bind=True, **RETRY_OPTIONS)
def language_job(
    self: Task, job_id: str, pack: dict[str, Any], meta: dict[str, Any], enqueued_at: float
) -> dict[str, Any]:
    started = time.time()
    QUEUE_WAIT_SECONDS.labels("language").observe(max(0.0, started - enqueued_at))
    runtime = current()
    store, settings = runtime.store, runtime.settings
    reliability = for_process(settings, store, self.app)
    if not claim(reliability, store, job_id, "language", lease_s=settings.job_lease_s,
                 max_deliveries=settings.job_max_deliveries):
        return {"job_id": job_id, "skipped": True}
    with held(reliability, store, job_id, "language"):
        evidence = EvidencePack.model_validate(pack)
        shop = ShopMetadata.model_validate(meta) if meta else None
        result = runtime.caption_writer().write(evidence, shop)
        written = store.save_result(job_id, result.model_dump(mode="json"))
    STAGE_SECONDS.labels("language").observe(time.time() - started)
    LLM_ATTEMPTS.inc(result.provenance.attempts)
    if result.provenance.fallback:
        LLM_FALLBACKS.inc()
    record_outcome("language", "succeeded" if written else "skipped")
    if written:
        reliability.publish_now(job_id)
    return {"job_id": job_id, "written": written, "fallback": result.provenance.fallback}
