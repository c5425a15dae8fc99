"""`p2p.vision`: one Celery task per job; the image joins a cross-job micro-batch; the evidence pack
goes on to the language queue as JSON."""

from __future__ import annotations

import time
from typing import Any

from celery import Task

from shared.celery_config import LANGUAGE_TASK, VISION_TASK, vision_task_budget_s
from shared.images import decode_image
from workers.celery_app import app
from workers.metrics import QUEUE_WAIT_SECONDS, STAGE_SECONDS
from workers.runtime import current
from workers.tasks.outcomes import RETRY_OPTIONS, record_failure, record_outcome


@app.task(name=VISION_TASK, bind=True, **RETRY_OPTIONS)
def vision_job(
    self: Task, job_id: str, image_ref: str, meta: dict[str, Any], enqueued_at: float
) -> dict[str, Any]:
    started = time.time()
    QUEUE_WAIT_SECONDS.labels("vision").observe(max(0.0, started - enqueued_at))
    runtime = current()
    store = runtime.store
    if not store.mark_running(job_id):
        record_outcome("vision", "skipped")
        return {"job_id": job_id, "skipped": "job unknown or already final"}
    try:
        vision = runtime.vision_stage()
        image = decode_image(runtime.blobs.get(image_ref), min_side=vision.min_side)
        future = vision.batcher.submit(image)
        pack = future.result(timeout=vision_task_budget_s(runtime.settings))
    except Exception as exc:
        record_failure(self.app, store, job_id, "vision", exc)
        raise
    STAGE_SECONDS.labels("vision").observe(time.time() - started)
    record_outcome("vision", "succeeded")
    self.app.send_task(
        LANGUAGE_TASK,
        args=[job_id, pack.model_dump(mode="json"), meta, time.time()],
        task_id=f"{job_id}.language",
    )
    return {"job_id": job_id, "garments": len(pack.garments)}
