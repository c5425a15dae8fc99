"""`p2p.vision`: one Celery task per job; the job is claimed (leased, deliveries bounded), the image joins a
cross-job micro-batch, and the evidence pack is handed to the language stage through the outbox (the job's stage
and the language message commit together, so a broker outage cannot lose it)."""

from __future__ import annotations

import time
from typing import Any

from celery import Task

from shared.celery_config import LANGUAGE_TASK, VISION_TASK, vision_task_budget_s
from shared.images import ImageLimits, decode_image
from shared.schemas import ShopMetadata
from shared.store.repository import Message
from workers.celery_app import app
from workers.runtime import WorkerRuntime
from workers.tasks.outcomes import RETRY_OPTIONS, take
from workers.vision.shop import apply_shop, catalogue_item


def _catalogue_row(runtime: WorkerRuntime, job_id: str, shop: ShopMetadata | None) -> dict[str, Any] | None:
    """The shop's catalogue row of the job's SKU (workers.vision.shop.catalogue_item decides); the job's tenant is
    read from the store only where the index is bound to one."""
    settings = runtime.settings
    if shop is None or not shop.sku or settings.index_dir is None:  # no lookup: no store read for the tenant
        return None
    job = runtime.store.get(job_id) if settings.index_tenant is not None else None
    index = getattr(runtime.vision_stage().pipeline, "index", None)
    return catalogue_item(index, settings, shop.sku, job.tenant if job is not None else None)


# ignore_result: the durable result is the job's SQL row (and the outbox message it hands on); nothing reads
# this task's Celery result, and storing it cost two result-backend writes per job (STARTED, then SUCCESS)
@app.task(name=VISION_TASK, bind=True, ignore_result=True, **RETRY_OPTIONS)
def vision_job(
    self: Task, job_id: str, image_ref: str, meta: dict[str, Any], enqueued_at: float
) -> dict[str, Any]:
    job = take(self.app, job_id, "vision", enqueued_at)
    if job is None:
        return {"job_id": job_id, "skipped": True}
    runtime, settings = job.runtime, job.runtime.settings
    with job.held():
        vision = runtime.vision_stage()
        image = decode_image(runtime.blobs.get(image_ref), min_side=vision.min_side,
                             limits=ImageLimits.of(settings))
        future = vision.batcher.submit(image)
        pack = future.result(timeout=vision_task_budget_s(settings))
        # the shop's own attributes, catalogue row and title outrank the image votes (marked with their source)
        shop = ShopMetadata.model_validate(meta) if meta else None
        pack = apply_shop(pack, shop, _catalogue_row(runtime, job_id, shop))
        message = Message(LANGUAGE_TASK, [job_id, pack.model_dump(mode="json"), meta, time.time()],
                          f"{job_id}.language")
        runtime.store.hand_off(job_id, "language", message, wait_grace_s=settings.queue_wait_grace_s)
    job.finish(webhooks=False)  # a hand-off queues no webhook
    return {"job_id": job_id, "garments": len(pack.garments)}
