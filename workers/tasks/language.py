"""`p2p.language`: caption + hashtags from the evidence pack; the job is claimed (leased while the LLM works,
deliveries bounded) and the result is written once, with its webhook in the same transaction. Many run at once on
a `threads` pool; the LLM client rate-limits each endpoint (llm_rate_limit_per_s) across those threads."""

from __future__ import annotations

from typing import Any

from celery import Task

from shared.celery_config import LANGUAGE_TASK
from shared.schemas import EvidencePack, ShopMetadata
from workers.celery_app import app
from workers.metrics import LLM_ATTEMPTS, LLM_FALLBACKS
from workers.tasks.outcomes import RETRY_OPTIONS, take


@app.task(name=LANGUAGE_TASK, bind=True, **RETRY_OPTIONS)
def language_job(
    self: Task, job_id: str, pack: dict[str, Any], meta: dict[str, Any], enqueued_at: float
) -> dict[str, Any]:
    job = take(self.app, job_id, "language", enqueued_at)
    if job is None:
        return {"job_id": job_id, "skipped": True}
    with job.held():
        evidence = EvidencePack.model_validate(pack)
        shop = ShopMetadata.model_validate(meta) if meta else None
        result = job.runtime.caption_writer().write(evidence, shop)
        written = job.runtime.store.save_result(job_id, result.model_dump(mode="json"))
    LLM_ATTEMPTS.inc(result.provenance.attempts)
    if result.provenance.fallback:
        LLM_FALLBACKS.inc()
    job.finish(written=written)
    return {"job_id": job_id, "written": written, "fallback": result.provenance.fallback}
