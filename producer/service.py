"""Turning a submission into a queued job: validate the image, apply backpressure, store the blob,
create the job (or find the existing one), enqueue the vision task. Nothing is queued for bad input."""

from __future__ import annotations

import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import redis
from celery import Celery
from pydantic import ValidationError

from producer.fetch import fetch_image, resolve_checked
from producer.models import validation_message
from shared.blobs import BlobStore
from shared.celery_config import VISION_TASK, create_app
from shared.errors import ForbiddenURLError, P2PError
from shared.images import decode_image
from shared.schemas import JobOptions, ShopMetadata
from shared.settings import Settings
from shared.store import JobStore, NewJob, migrate


class QueueFullError(P2PError):
    code = "queue_full"
    http_status = 429

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class InvalidRequestError(P2PError):
    code = "invalid_request"
    http_status = 422


class EnqueueError(P2PError):
    code = "enqueue_failed"
    http_status = 503


@dataclass(frozen=True)
class Submitted:
    job_id: str
    status: str
    duplicate: bool


class SubmissionService:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.retry_after_s = 30  # what a 429 asks clients to wait
        migrate(settings.database_url)
        self.store = JobStore(settings.database_url)
        self.blobs = BlobStore(settings.blob_dir)
        self.celery: Celery = create_app(settings)
        self.redis = redis.Redis.from_url(settings.broker_url)

    def submit_url(
        self, url: str, *, sku: str | None, title: str | None, options: JobOptions,
        callback_url: str | None,
    ) -> Submitted:
        self.check_callback(callback_url)
        fetched = fetch_image(url, self.settings)
        return self.submit_bytes(
            fetched.data, sku=sku, title=title, options=options, callback_url=callback_url
        )

    def submit_bytes(
        self, data: bytes, *, sku: str | None, title: str | None, options: JobOptions,
        callback_url: str | None,
    ) -> Submitted:
        self.check_callback(callback_url)
        try:
            meta = ShopMetadata(sku=sku, title=title, **options.canonical())
        except ValidationError as exc:
            raise InvalidRequestError(validation_message(exc.errors())) from exc
        image = decode_image(data)  # corrupt or oversized: a clear error before anything is stored
        new = NewJob(image.sha256, f"blob:{image.sha256}", sku=sku, title=title,
                     options=options.canonical(), callback_url=callback_url)
        existing = self.store.find_by_key(new.key)
        if existing is not None:
            return Submitted(existing.id, existing.state, duplicate=True)
        self.check_backpressure()
        self.blobs.put(data)
        job, created = self.store.create_or_get(new)
        if not created:
            return Submitted(job.id, job.state, duplicate=True)
        try:
            message_meta = meta.model_dump(mode="json", exclude_defaults=True)
            self.celery.send_task(
                VISION_TASK,
                args=[job.id, job.image_ref, message_meta, time.time()],
                task_id=f"{job.id}.vision",
            )
        except Exception as exc:
            self.store.delete(job.id)
            raise EnqueueError(f"could not queue the job: {exc}") from exc
        return Submitted(job.id, job.state, duplicate=False)

    def queue_lengths(self) -> dict[str, int]:
        queues = (self.settings.vision_queue, self.settings.language_queue)
        return {name: int(self.redis.llen(name)) for name in queues}

    def check_backpressure(self) -> None:
        for name, length in self.queue_lengths().items():
            if length >= self.settings.queue_limit:
                raise QueueFullError(
                    f"the {name} queue holds {length} jobs "
                    f"(limit {self.settings.queue_limit}); retry later",
                    self.retry_after_s,
                )

    def check_callback(self, callback_url: str | None) -> None:
        """A callback must be an http(s) URL on a public address (webhooks are an SSRF vector too)."""
        if callback_url is None:
            return
        parts = urlsplit(callback_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ForbiddenURLError(f"callback_url must be an http(s) URL, got {callback_url!r}")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        resolve_checked(parts.hostname, port, allow_private=self.settings.allow_private_urls)

    def close(self) -> None:
        self.redis.close()
