"""Webhooks: an HMAC-SHA256 signature receivers can verify, retries with backoff, 4xx final (real HTTP)."""

from __future__ import annotations

import json
import time

import pytest

from shared.webhooks import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WebhookDeliveryError,
    deliver,
    sign,
    verify_signature,
)
from tests.support.helpers import Reply, http_server

SECRET = "s3cret"
PAYLOAD = {"job_id": "abc", "status": "succeeded", "result": {"caption": "A red dress."}}


def test_given_a_flaky_receiver_when_delivering_then_retried_with_backoff_until_accepted() -> None:
    replies = iter([Reply(500), Reply(503), Reply(204)])
    with http_server({"/hook": lambda _b, _h: next(replies)}) as (base, requests):
        started = time.monotonic()
        attempts = deliver(f"{base}/hook", PAYLOAD, SECRET, attempts=5, backoff_s=0.1, allow_private=True)
        elapsed = time.monotonic() - started
    assert attempts == 3
    assert len(requests) == 3
    assert elapsed >= 0.1 + 0.2  # backoff doubled between the attempts
    for request in requests:
        assert json.loads(request.body) == PAYLOAD
        assert verify_signature(SECRET, request.body, request.headers[TIMESTAMP_HEADER.lower()],
                                request.headers[SIGNATURE_HEADER.lower()])


def test_given_a_signature_when_body_secret_or_time_differ_then_it_does_not_verify() -> None:
    body = b'{"job_id":"abc"}'
    now = int(time.time())
    signature = sign(SECRET, now, body)
    assert verify_signature(SECRET, body, str(now), signature)
    assert not verify_signature(SECRET, body + b" ", str(now), signature)
    assert not verify_signature("other", body, str(now), signature)
    assert not verify_signature(SECRET, body, str(now - 3600), sign(SECRET, now - 3600, body))
    assert not verify_signature(SECRET, body, "not-a-number", signature)


@pytest.mark.parametrize(("status", "attempts", "tried"), [(400, 4, 1), (502, 3, 3)], ids=["rejects", "stays-down"])
def test_given_a_receiver_that_rejects_or_stays_down_when_delivering_then_only_a_5xx_is_retried_then_an_error(
    status: int, attempts: int, tried: int
) -> None:
    with (
        http_server({"/hook": lambda _b, _h: Reply(status)}) as (base, requests),
        pytest.raises(WebhookDeliveryError, match=f"HTTP {status}"),
    ):
        deliver(f"{base}/hook", PAYLOAD, SECRET, attempts=attempts, backoff_s=0.01, allow_private=True)
    assert len(requests) == tried
