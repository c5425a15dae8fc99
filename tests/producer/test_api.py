"""The producer API in-process with a real Redis and real databases: auth, uploads, URL jobs, idempotency,
backpressure, and that bad input queues nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from fastapi.testclient import TestClient

from producer.api import create_app
from producer.auth import key_digest
from shared.settings import Settings
from shared.store import JobStore
from tests.support.helpers import Reply, http_server, jpeg_bytes

KEY = "test-key-123"


@pytest.fixture()
def settings(redis_url: str, database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        broker_url=redis_url, database_url=database_url, blob_dir=tmp_path / "blobs",
        api_keys=f"{key_digest('other')},{key_digest(KEY)}", allow_private_urls=True,
        queue_limit=3, max_image_bytes=200_000,
    )


@pytest.fixture()
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), headers={"X-API-Key": KEY}) as test_client:
        yield test_client


def queued(settings: Settings) -> int:
    return int(redis.Redis.from_url(settings.broker_url).llen(settings.vision_queue))


def upload(client: TestClient, data: bytes, **fields: str) -> object:
    return client.post("/v1/jobs", files={"image": ("p.jpg", data, "image/jpeg")}, data=fields)


def test_given_the_api_then_its_openapi_document_lists_every_route(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/v1/jobs", "/v1/jobs:batch", "/v1/jobs/{job_id}", "/v1/products/{sku}/captions"} <= set(paths)
    assert "multipart/form-data" in paths["/v1/jobs"]["post"]["requestBody"]["content"]


def test_given_no_or_a_wrong_key_when_calling_then_401_and_bearer_works(client: TestClient) -> None:
    denied = client.get("/v1/jobs/x", headers={"X-API-Key": ""})
    assert denied.status_code == 401 and denied.json()["error"]["code"] == "unauthorized"
    assert client.get("/v1/jobs/x", headers={"X-API-Key": "wrong"}).status_code == 401
    bearer = {"Authorization": f"Bearer {KEY}", "X-API-Key": ""}
    assert client.get("/v1/jobs/nope", headers=bearer).status_code == 404


def test_given_an_upload_when_submitted_twice_then_one_job_one_message_and_a_blob(
    client: TestClient, settings: Settings
) -> None:
    first = upload(client, jpeg_bytes(1), sku="SKU-9", options='{"tone": "playful"}')
    assert first.status_code == 202, first.text
    job_id = first.json()["job_id"]
    again = upload(client, jpeg_bytes(1), sku="SKU-9", options='{"tone": "playful"}')
    assert again.status_code == 200
    assert again.json() == {"job_id": job_id, "status": "queued", "duplicate": True}
    other_options = upload(client, jpeg_bytes(1), sku="SKU-9", options='{"tone": "calm"}')
    assert other_options.json()["job_id"] != job_id
    assert queued(settings) == 2
    view = client.get(f"/v1/jobs/{job_id}").json()
    assert view["status"] == "queued" and view["sku"] == "SKU-9"
    assert len(list((settings.blob_dir).rglob("*"))) == 2  # one shard folder + one blob, stored once


@pytest.mark.parametrize(
    ("data", "status", "code"),
    [
        (b"this is not an image", 422, "invalid_image"),
        (jpeg_bytes(2)[:300], 422, "invalid_image"),
        (b"", 422, "invalid_image"),
        (b"\xff\xd8" + b"\0" * 300_000, 413, "image_too_large"),
    ],
)
def test_given_a_corrupt_or_oversized_upload_then_clear_4xx_and_nothing_queued(
    client: TestClient, settings: Settings, data: bytes, status: int, code: str
) -> None:
    response = upload(client, data, sku="BAD")
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    assert queued(settings) == 0
    assert JobStore(settings.database_url).counts_by_state()["queued"] == 0


def test_given_bad_fields_then_422_and_nothing_queued(client: TestClient, settings: Settings) -> None:
    assert upload(client, jpeg_bytes(3), options='{"colour": "red"}').status_code == 422
    too_long = upload(client, jpeg_bytes(3), sku="S" * 129)
    assert too_long.status_code == 422 and too_long.json()["error"]["code"] == "invalid_request"
    huge = client.post("/v1/jobs", content=b"x" * 400_000,
                       headers={"Content-Type": "multipart/form-data; boundary=zzz"})
    assert huge.status_code == 413
    unknown_field = client.post("/v1/jobs", json={"image_url": "x", "nope": 1})
    assert unknown_field.status_code == 422 and unknown_field.json()["error"]["code"] == "invalid_request"
    empty_batch = client.post("/v1/jobs:batch", json={"jobs": []})
    assert empty_batch.status_code == 422 and "jobs" in empty_batch.json()["error"]["message"]
    no_file = client.post("/v1/jobs", files={"other": ("a", b"a")})
    assert no_file.status_code == 422
    refused = upload(client, jpeg_bytes(3), callback_url="http://169.254.169.254/hook")
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "forbidden_url"
    assert queued(settings) == 0


def test_given_image_urls_when_submitted_then_fetched_and_queued_and_ssrf_refused(
    client: TestClient, settings: Settings
) -> None:
    routes = {"/a.jpg": lambda _b, _h: Reply(200, jpeg_bytes(4), {"Content-Type": "image/jpeg"})}
    with http_server(routes) as (base, _):
        single = client.post("/v1/jobs", json={"image_url": f"{base}/a.jpg", "sku": "URL-1"})
        assert single.status_code == 202, single.text
        batch = client.post("/v1/jobs:batch", json={"jobs": [
            {"image_url": f"{base}/a.jpg", "sku": "URL-1"},
            {"image_url": f"{base}/a.jpg", "sku": "URL-2"},
            {"image_url": "http://169.254.169.254/latest/meta-data", "sku": "URL-3"},
            {"image_url": f"{base}/missing.jpg", "sku": "URL-4"},
        ]})
    assert batch.status_code == 202
    items = batch.json()["jobs"]
    assert items[0]["job_id"] == single.json()["job_id"] and items[0]["duplicate"]
    assert items[1]["job_id"] and not items[1]["duplicate"]
    assert items[2]["error"]["code"] == "forbidden_url"
    assert items[3]["error"]["code"] == "fetch_failed"
    assert queued(settings) == 2


def test_given_a_full_queue_when_submitting_then_429_with_retry_after_but_duplicates_answer(
    client: TestClient, settings: Settings
) -> None:
    ids = [upload(client, jpeg_bytes(10 + n)).json()["job_id"] for n in range(3)]
    full = upload(client, jpeg_bytes(99))
    assert full.status_code == 429
    assert int(full.headers["Retry-After"]) > 0
    assert full.json()["error"]["code"] == "queue_full"
    assert upload(client, jpeg_bytes(10)).json()["job_id"] == ids[0]
    assert queued(settings) == 3
    assert 'p2p_jobs{state="queued"} 3.0' in client.get("/metrics").text


def test_given_a_finished_job_when_asking_by_sku_then_its_caption_is_listed(
    client: TestClient, settings: Settings
) -> None:
    job_id = upload(client, jpeg_bytes(5), sku="RED-1").json()["job_id"]
    store = JobStore(settings.database_url)
    store.mark_running(job_id)
    store.save_result(job_id, {"caption": "A red dress.", "hashtags": ["#reddress"]})
    captions = client.get("/v1/products/RED-1/captions").json()
    assert captions["captions"][0]["caption"] == "A red dress."
    assert client.get(f"/v1/jobs/{job_id}").json()["result"]["hashtags"] == ["#reddress"]
    assert client.get("/v1/products/NONE/captions").json()["captions"] == []
