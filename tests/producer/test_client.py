"""The SDK against the real API served by uvicorn (in a thread): URL and batch submissions, errors, 429 retries."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import uvicorn

from producer import ApiError, Client
from producer.api import create_app
from producer.auth import key_digest
from shared.ports import free_port
from shared.settings import Settings
from tests.support.helpers import Reply, http_server, jpeg_bytes

KEY = "sdk-key"


@pytest.fixture()
def settings(redis_url: str, tmp_path: Path) -> Settings:
    return Settings(broker_url=redis_url, database_url=f"sqlite:///{tmp_path / 'jobs.db'}",
                    blob_dir=tmp_path / "blobs", api_keys=key_digest(KEY), allow_private_urls=True, queue_limit=2)


@pytest.fixture()
def api_url(settings: Settings) -> Iterator[str]:
    port = free_port()
    app = create_app(settings)
    app.state.service.retry_after_s = 1
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def test_given_urls_when_submitted_with_the_sdk_then_jobs_and_per_item_errors(api_url: str) -> None:
    photo = jpeg_bytes(0)
    routes = {"/0.jpg": lambda _b, _h: Reply(200, photo, {"Content-Type": "image/jpeg"})}
    with http_server(routes) as (base, _), Client(api_url, KEY) as client:
        single = client.submit_url(f"{base}/0.jpg", sku="A", options={"tone": "calm"})
        items = client.submit_batch([{"image_url": f"{base}/0.jpg", "sku": "A", "options": {"tone": "calm"}},
                                     {"image_url": "http://127.0.0.1:1/x.jpg"}])
        assert client.get(single["job_id"])["status"] == "queued"
        assert client.captions("A") == {"sku": "A", "captions": []}
    assert items[0]["job_id"] == single["job_id"] and items[0]["duplicate"]
    assert items[1]["error"]["code"] == "fetch_failed"  # loopback allowed in tests, but nothing listens


def test_given_a_wrong_key_or_unknown_job_then_api_errors_carry_status_and_code(api_url: str) -> None:
    with Client(api_url, "wrong") as client, pytest.raises(ApiError) as denied:
        client.get("x")
    assert denied.value.status == 401
    with Client(api_url, KEY) as client, pytest.raises(ApiError) as missing:
        client.get("nope")
    assert missing.value.status == 404


def test_given_a_full_queue_when_submitting_then_the_sdk_retries_after_retry_after(
    api_url: str, settings: Settings
) -> None:
    with Client(api_url, KEY, retries_on_429=0) as client:
        client.submit_file(jpeg_bytes(1))
        client.submit_file(jpeg_bytes(2))
        with pytest.raises(ApiError) as full:
            client.submit_file(jpeg_bytes(3))
    assert full.value.status == 429 and full.value.code == "queue_full" and full.value.retry_after_s
    # a consumer drains the queue while the SDK waits out Retry-After
    threading.Timer(0.5, lambda: redis.Redis.from_url(settings.broker_url).delete(settings.vision_queue)).start()
    with Client(api_url, KEY, retries_on_429=1) as client:
        started = time.monotonic()
        assert client.submit_file(jpeg_bytes(3))["status"] == "queued"
    assert time.monotonic() - started >= full.value.retry_after_s
