"""Turning a submission into a queued job: validate the image (header and a cheap partial decode), apply
backpressure, store the blob, create the job and its vision message in one transaction (the outbox), publish it.
Nothing is queued for bad input; an accepted job always has a message (the relay publishes it if we could not)."""

from __future__ import annotations

import logging
import time
import unicodedata
from dataclasses import dataclass
from typing import cast

import redis
from celery import Celery
from pydantic import ValidationError

from producer.fetch import fetch_image
from producer.models import validation_message
from producer.validate import ImageChecker
from shared.blobs import BlobStore
from shared.celery_config import VISION_TASK, WEBHOOK_TASK, create_app
from shared.errors import P2PError
from shared.netguard import checked_target
from shared.reconcile import Reconciler, build_reconciler
from shared.schemas import JobOptions, ShopMetadata
from shared.security import require_webhook_secret
from shared.settings import Settings
from shared.store import JobStore, NewJob, migrate_when_reachable
from shared.store.models import Job
from shared.store.repository import Message

log = logging.getLogger(__name__)


class QueueFullError(P2PError):
    code = "queue_full"
    http_status = 429

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class BrokerUnavailableError(QueueFullError):
    code = "broker_unavailable"
    http_status = 503


class InvalidRequestError(P2PError):
    code = "invalid_request"
    http_status = 422


@dataclass(frozen=True)
class Submitted:
    job_id: str
    status: str
    duplicate: bool


class SubmissionService:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.retry_after_s = 30  # what a 429 asks clients to wait
        migrate_when_reachable(settings.database_url, settings.database_wait_s)
        self.store = JobStore(settings.database_url)
        self.blobs = BlobStore(settings.blob_dir)
        self.celery: Celery = create_app(settings)
        self.redis = redis.Redis.from_url(settings.broker_url)
        self.checker = ImageChecker(settings)
        self.reconciler: Reconciler = build_reconciler(
            self.store, self.publish, self.redis, (settings.vision_queue, settings.language_queue),
            grace_s=settings.queue_wait_grace_s, webhook_task=WEBHOOK_TASK,
        )

    def publish(self, message: Message) -> None:
        self.celery.send_task(message.task, args=message.args, task_id=message.task_id)

    def submit_url(
        self, url: str, *, sku: str | None, title: str | None, options: JobOptions,
        callback_url: str | None, tenant: str = "default",
    ) -> Submitted:
        self.check_callback(callback_url)
        _shop_meta(sku, title, options)  # refuse bad fields before fetching anything
        fetched = fetch_image(url, self.settings)
        return self.submit_bytes(
            fetched.data, sku=sku, title=title, options=options, callback_url=callback_url, tenant=tenant
        )

    def submit_bytes(
        self, data: bytes, *, sku: str | None, title: str | None, options: JobOptions,
        callback_url: str | None, tenant: str = "default",
    ) -> Submitted:
        self.check_callback(callback_url)
        meta = _shop_meta(sku, title, options)
        image = self.checker.check(data)  # corrupt or oversized: a clear error before anything is stored
        new = NewJob(image.sha256, f"blob:{image.sha256}", sku=sku, title=title,
                     options=options.canonical(), callback_url=callback_url, tenant=tenant)
        existing = self.store.find_by_key(new.key)
        if existing is not None:
            return self._duplicate(existing, callback_url)
        self.check_backpressure()
        self.blobs.put(data)
        message_meta = meta.model_dump(mode="json", exclude_defaults=True)

        def vision_message(job_id: str) -> Message:
            return Message(VISION_TASK, [job_id, new.image_ref, message_meta, time.time()], f"{job_id}.vision")

        job, created = self.store.create_or_get(new, vision_message, wait_grace_s=self.settings.queue_wait_grace_s)
        if not created:
            return self._duplicate(job, callback_url)
        try:
            self.reconciler.relay(job_id=job.id)
        except Exception:  # the job and its message are committed; the relay publishes it later
            log.warning("could not publish job %s now; the relay will", job.id, exc_info=True)
        return Submitted(job.id, job.state, duplicate=False)

    def _duplicate(self, job: Job, callback_url: str | None) -> Submitted:
        """A resubmission: a new callback URL is honoured (stored, or delivered now if the job is done)."""
        if callback_url and callback_url != job.callback_url:
            job = self.store.set_callback(job.id, callback_url) or job
        return Submitted(job.id, job.state, duplicate=True)

    def queue_lengths(self) -> dict[str, int]:
        queues = (self.settings.vision_queue, self.settings.language_queue)
        try:
            return {name: int(cast(int, self.redis.llen(name))) for name in queues}
        except redis.RedisError as exc:  # refuse clearly rather than accept blind (and answer a bare 500)
            raise BrokerUnavailableError(f"the broker is not reachable: {exc}", self.retry_after_s) from exc

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
        checked_target(callback_url, allow_private=self.settings.allow_private_urls)
        require_webhook_secret(self.settings.webhook_secret, dev_insecure=self.settings.dev_insecure)

    def close(self) -> None:
        self.redis.close()


def _check_text(**fields: str | None) -> None:
    """Control characters (NUL above all: PostgreSQL refuses it) have no place in a SKU, title or option."""
    for name, value in fields.items():
        if value and any(unicodedata.category(char) == "Cc" and char not in "\t\n" for char in value):
            raise InvalidRequestError(f"{name} contains control characters")


def _shop_meta(sku: str | None, title: str | None, options: JobOptions) -> ShopMetadata:
    _check_text(sku=sku, title=title, **{k: v for k, v in options.canonical().items() if isinstance(v, str)})
    try:
        return ShopMetadata(sku=sku, title=title, **options.canonical())
    except ValidationError as exc:
        raise InvalidRequestError(validation_message(exc.errors())) from exc
