"""`p2p.webhook`: deliver one completion webhook from its outbox row (`webhook_deliveries`), signed, to the
checked address, with its stable delivery id. A few quick retries in-process; after that the row records when to
try again and the reconciler sends the task again then. No Celery countdowns: a retry never sits in the broker
longer than the visibility timeout (which would deliver it twice)."""

from __future__ import annotations

from typing import Any

from shared.celery_config import WEBHOOK_TASK
from shared.security import WebhooksDisabledError, require_webhook_secret
from shared.store.outbox import OutboxStore
from shared.webhooks import WebhookDeliveryError, deliver
from workers.celery_app import app
from workers.metrics import WEBHOOKS
from workers.runtime import current

ATTEMPTS_PER_ROUND = 3
MAX_BACKOFF_S = 3600.0


def retry_in_s(rounds_done: int, max_rounds: int) -> float | None:
    """30 s, 1 min, 2 min, ... up to an hour between rounds; None once `max_rounds` have failed."""
    if rounds_done >= max_rounds:
        return None
    return min(30.0 * 2 ** (rounds_done - 1), MAX_BACKOFF_S)


@app.task(name=WEBHOOK_TASK)
def webhook_job(delivery_id: str) -> dict[str, Any]:
    runtime = current()
    store, settings = runtime.store, runtime.settings
    outbox = OutboxStore(store)
    delivery = outbox.webhook(delivery_id)
    if delivery is None or delivery.state != "pending":
        return {"delivery_id": delivery_id, "skipped": "unknown or already done"}
    job = store.get(delivery.job_id)
    if job is None:
        outbox.webhook_failed(delivery_id, 0, "the job no longer exists", retry_in_s=None)
        return {"delivery_id": delivery_id, "skipped": "no job"}
    try:
        require_webhook_secret(settings.webhook_secret, dev_insecure=settings.dev_insecure)
        attempts = deliver(delivery.url, job.view().body(), settings.webhook_secret, delivery_id=delivery.id,
                           allow_private=settings.allow_private_urls, attempts=ATTEMPTS_PER_ROUND)
    except WebhooksDisabledError as exc:
        outbox.webhook_failed(delivery_id, 0, str(exc), retry_in_s=None)
        WEBHOOKS.labels("failed").inc()
        return {"delivery_id": delivery_id, "failed": exc.code}
    except WebhookDeliveryError as exc:
        rounds = delivery.attempts // ATTEMPTS_PER_ROUND + 1
        later = None if exc.final else retry_in_s(rounds, settings.webhook_max_attempts)
        outbox.webhook_failed(delivery_id, exc.attempts, str(exc), retry_in_s=later)
        WEBHOOKS.labels("failed").inc()
        return {"delivery_id": delivery_id, "failed": str(exc), "retry_in_s": later}
    outbox.webhook_delivered(delivery_id, attempts)
    WEBHOOKS.labels("delivered").inc()
    return {"delivery_id": delivery_id, "attempts": attempts}
