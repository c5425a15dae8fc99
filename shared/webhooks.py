"""Completion webhooks: the JSON body signed with HMAC-SHA256, delivered with retries and exponential
backoff.

Headers: `X-P2P-Timestamp` (unix seconds) and `X-P2P-Signature: sha256=<hex of HMAC(secret,
"<timestamp>.<body>")>`. Receivers check both with `verify_signature` (the timestamp bounds
replays). `X-P2P-Delivery` is the delivery id: the same on every retry of one webhook; webhooks are delivered at
least once, so a receiver keeps the ids it has processed (a day is plenty) and ignores repeats."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from typing import Any

import httpx

from shared.errors import P2PError
from shared.netguard import guarded_client, pinned_request

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-P2P-Signature"
# stable across retries and redeliveries of one webhook: receivers dedupe on it (delivery is at least once)
DELIVERY_HEADER = "X-P2P-Delivery"
TIMESTAMP_HEADER = "X-P2P-Timestamp"


class WebhookDeliveryError(P2PError):
    code = "webhook_failed"
    http_status = 502

    def __init__(self, message: str, *, attempts: int = 1, final: bool = False) -> None:
        super().__init__(message)
        self.attempts = attempts
        self.final = final  # a 4xx or a forbidden address: trying again will not help


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def verify_signature(
    secret: str, body: bytes, timestamp: str, signature: str, *, tolerance_s: float = 300.0
) -> bool:
    try:
        sent_at = int(timestamp)
    except ValueError:
        return False
    if abs(time.time() - sent_at) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, sent_at, body), signature)


def encode(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()


def deliver(
    url: str,
    payload: dict[str, Any],
    secret: str,
    *,
    delivery_id: str = "",
    allow_private: bool = False,
    attempts: int = 3,
    backoff_s: float = 1.0,
    timeout_s: float = 10.0,
) -> int:
    """POST the signed payload until a 2xx; returns the attempts used.

    The connection goes to the address checked by `shared.netguard` (no rebinding, no proxy). Retries network
    errors, 429 and 5xx with backoff doubling from `backoff_s`; another 4xx is final. Raises WebhookDeliveryError
    (with `attempts` and `final`) when all attempts fail.
    """
    body = encode(payload)
    last_problem = "no attempt made"
    with guarded_client(timeout_s) as client:
        for attempt in range(1, attempts + 1):
            timestamp = int(time.time())
            headers = {
                "Content-Type": "application/json",
                TIMESTAMP_HEADER: str(timestamp),
                SIGNATURE_HEADER: sign(secret, timestamp, body),
            }
            if delivery_id:
                headers[DELIVERY_HEADER] = delivery_id
            try:
                request = pinned_request(client, "POST", url, allow_private=allow_private, headers=headers,
                                         content=body)
            except P2PError as exc:  # the URL now resolves somewhere forbidden: never retried
                raise WebhookDeliveryError(f"webhook to {url} refused: {exc}", attempts=attempt, final=True) from exc
            try:
                response = client.send(request)
            except httpx.HTTPError as exc:
                last_problem = f"{type(exc).__name__}: {exc}"
            else:
                if response.is_success:
                    return attempt
                last_problem = f"HTTP {response.status_code}"
                if response.status_code < 500 and response.status_code != 429:
                    raise WebhookDeliveryError(f"webhook to {url} failed: {last_problem}", attempts=attempt,
                                               final=True)
            if attempt < attempts:
                log.info("webhook to %s failed (%s); retry %d/%d", url, last_problem, attempt, attempts - 1)
                time.sleep(backoff_s * 2 ** (attempt - 1))
    raise WebhookDeliveryError(f"webhook to {url} failed: {last_problem}", attempts=attempts, final=False)
