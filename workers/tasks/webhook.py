"""`p2p.webhook`: POST the finished job to its callback URL, signed; quick retries in-process, then
Celery retries with backoff for longer outages."""

from __future__ import annotations

from typing import Any

from shared.celery_config import WEBHOOK_TASK
from shared.webhooks import WebhookDeliveryError, deliver
from workers.celery_app import app
from workers.metrics import WEBHOOKS
from workers.runtime import current


@app.task(
    name=WEBHOOK_TASK,
    autoretry_for=(WebhookDeliveryError,),
    retry_backoff=60,
    retry_backoff_max=3600,
    retry_jitter=True,
    max_retries=6,
)
def webhook_job(job_id: str) -> dict[str, Any]:
    runtime = current()
    job = runtime.store.get(job_id)
    if job is None or not job.callback_url:
        return {"job_id": job_id, "skipped": "no job or no callback"}
    try:
        attempts = deliver(job.callback_url, job.view().body(), runtime.settings.webhook_secret)
    except WebhookDeliveryError:
        WEBHOOKS.labels("failed").inc()
        raise
    WEBHOOKS.labels("delivered").inc()
    return {"job_id": job_id, "attempts": attempts}
