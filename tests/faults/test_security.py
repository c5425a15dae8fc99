"""Fail closed, tenants, rate limits, metrics behind a key, real webhook secrets, and the SSRF address rules
(the API in-process over a real Redis and real databases)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from producer.api import create_app
from producer.auth import key_digest
from shared.errors import ForbiddenURLError
from shared.netguard import check_address
from shared.security import InsecureConfigError
from shared.settings import Settings
from shared.store import JobStore
from tests.support.helpers import jpeg_bytes

SECRET = "0123456789abcdef0123456789abcdef"


def settings_for(redis_url: str, database_url: str, tmp_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "broker_url": redis_url, "database_url": database_url, "blob_dir": tmp_path / "blobs",
        "api_keys": f"shop-a:{key_digest('key-a')},shop-b:{key_digest('key-b')},{key_digest('key-plain')}",
        "webhook_secret": SECRET, "allow_private_urls": True,
    }
    return Settings(**{**values, **overrides})  # type: ignore[arg-type]


@pytest.fixture()
def client(redis_url: str, database_url: str, tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(settings_for(redis_url, database_url, tmp_path))) as test_client:
        yield test_client


def upload(client: TestClient, key: str, seed: int, **fields: str) -> httpx.Response:
    return client.post("/v1/jobs", files={"image": ("p.jpg", jpeg_bytes(seed), "image/jpeg")}, data=fields,
                       headers={"X-API-Key": key})


def test_given_no_keys_then_the_api_refuses_to_start_unless_the_dev_flag_is_set(
    redis_url: str, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'j.db'}"
    with pytest.raises(InsecureConfigError, match="P2P_DEV_INSECURE"):
        create_app(settings_for(redis_url, url, tmp_path, api_keys=""))
    with pytest.raises(InsecureConfigError):
        create_app(settings_for(redis_url, url, tmp_path, api_keys="not-a-digest"))
    dev = create_app(settings_for(redis_url, url, tmp_path, api_keys="", dev_insecure=True))
    with TestClient(dev) as open_client:
        assert open_client.get("/v1/jobs/nope").status_code == 404


def test_given_tenants_then_a_key_sees_only_its_own_jobs_and_skus(client: TestClient) -> None:
    job_a = upload(client, "key-a", 1, sku="SHARED-SKU").json()["job_id"]
    same_photo_b = upload(client, "key-b", 1, sku="SHARED-SKU")
    assert same_photo_b.status_code == 202
    job_b = same_photo_b.json()["job_id"]
    assert job_b != job_a  # never shared across tenants, so never learnt about
    assert client.get(f"/v1/jobs/{job_a}", headers={"X-API-Key": "key-a"}).status_code == 200
    assert client.get(f"/v1/jobs/{job_a}", headers={"X-API-Key": "key-b"}).status_code == 404
    assert client.get(f"/v1/jobs/{job_a}", headers={"X-API-Key": "key-plain"}).status_code == 404
    store = JobStore(client.app.state.service.settings.database_url)
    for job_id in (job_a, job_b):
        store.mark_running(job_id)
        store.save_result(job_id, {"caption": f"caption of {job_id}", "hashtags": ["#x"]})
    seen_by_b = client.get("/v1/products/SHARED-SKU/captions", headers={"X-API-Key": "key-b"}).json()
    assert [c["job_id"] for c in seen_by_b["captions"]] == [job_b]


def test_given_metrics_then_a_key_is_needed(client: TestClient) -> None:
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"X-API-Key": "key-plain"}).status_code == 200


def test_given_a_key_over_its_rate_then_429_with_retry_after_and_other_keys_unaffected(
    redis_url: str, database_url: str, tmp_path: Path
) -> None:
    app = create_app(settings_for(redis_url, database_url, tmp_path, api_rate_limit_per_min=3))
    with TestClient(app) as limited:
        answers = [limited.get("/v1/jobs/x", headers={"X-API-Key": "key-a"}).status_code for _ in range(4)]
        assert answers == [404, 404, 404, 429]
        refused = limited.get("/v1/jobs/x", headers={"X-API-Key": "key-a"})
        assert refused.json()["error"]["code"] == "rate_limited" and int(refused.headers["Retry-After"]) >= 1
        assert limited.get("/v1/jobs/x", headers={"X-API-Key": "key-b"}).status_code == 404


@pytest.mark.parametrize("secret", ["change-me", "", "short-secret"])
def test_given_a_placeholder_webhook_secret_then_callbacks_are_refused(
    redis_url: str, database_url: str, tmp_path: Path, secret: str
) -> None:
    with TestClient(create_app(settings_for(redis_url, database_url, tmp_path, webhook_secret=secret))) as weak:
        refused = upload(weak, "key-a", 3, callback_url="http://127.0.0.1:9/hook")
        assert refused.status_code == 422
        assert refused.json()["error"]["code"] == "webhooks_disabled"
        assert upload(weak, "key-a", 3).status_code == 202


def test_given_a_resubmission_with_a_new_callback_then_it_is_honoured(client: TestClient) -> None:
    first = upload(client, "key-a", 4, callback_url="http://127.0.0.1:9/old")
    job_id = first.json()["job_id"]
    again = upload(client, "key-a", 4, callback_url="http://127.0.0.1:9/new")
    assert again.json() == {"job_id": job_id, "status": "queued", "duplicate": True}
    store = JobStore(client.app.state.service.settings.database_url)
    assert store.get(job_id).callback_url == "http://127.0.0.1:9/new"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "address",
    [
        "64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe", "64:ff9b:1::a00:1", "2002:7f00:1::1", "2002:c000:0204::1",
        "2001:0:4136:e378:8000:63bf:80ff:fffe", "fec0::1", "fc00::1", "::127.0.0.1", "::ffff:10.0.0.1",
        "100.64.0.1", "198.18.0.1", "192.0.0.8", "240.0.0.1", "0.1.2.3", "2001:db8::1", "100::1", "ff02::1",
    ],
)
def test_given_a_tunnelling_or_non_global_address_then_refused_even_when_private_is_allowed(address: str) -> None:
    with pytest.raises(ForbiddenURLError):
        check_address(ipaddress.ip_address(address), allow_private=False)
    if not address.startswith(("fc00", "::ffff:10")):  # ULA and RFC 1918 are the test mode's private ranges
        with pytest.raises(ForbiddenURLError):
            check_address(ipaddress.ip_address(address), allow_private=True)


def test_given_public_addresses_then_allowed() -> None:
    for address in ("93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946", "8.8.8.8", "2a00:1450:4001:81a::200e"):
        check_address(ipaddress.ip_address(address), allow_private=False)


def test_given_a_webhook_then_pinned_to_a_checked_address_with_one_delivery_id_across_retries() -> None:
    from shared.webhooks import DELIVERY_HEADER, WebhookDeliveryError, deliver
    from tests.support.helpers import Reply, http_server

    replies = iter([Reply(503), Reply(204)])
    with http_server({"/hook": lambda _b, _h: next(replies)}) as (base, requests):
        with pytest.raises(WebhookDeliveryError, match="refused") as refused:
            deliver(f"{base}/hook", {"job_id": "j"}, SECRET, delivery_id="d1", allow_private=False)
        assert refused.value.final and requests == []  # loopback: never connected
        assert deliver(f"{base}/hook", {"job_id": "j"}, SECRET, delivery_id="d1", allow_private=True,
                       backoff_s=0.01) == 2
    assert [r.headers[DELIVERY_HEADER.lower()] for r in requests] == ["d1", "d1"]


def test_given_proxy_variables_then_fetches_ignore_them(monkeypatch: pytest.MonkeyPatch) -> None:
    from producer.fetch import fetch_image
    from tests.support.helpers import Reply, http_server

    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens: a proxied fetch would fail
    monkeypatch.setenv("ALL_PROXY", "http://127.0.0.1:9")
    image = jpeg_bytes(9)
    with http_server({"/a.jpg": lambda _b, _h: Reply(200, image, {"Content-Type": "image/jpeg"})}) as (base, _):
        assert fetch_image(f"{base}/a.jpg", Settings(allow_private_urls=True)).data == image


def test_given_the_broker_down_then_submissions_get_503_with_a_code_and_nothing_is_stored(
    database_url: str, tmp_path: Path
) -> None:
    from shared.ports import free_port

    dead = f"redis://127.0.0.1:{free_port()}/0"
    with TestClient(create_app(settings_for(dead, database_url, tmp_path))) as down:
        refused = upload(down, "key-a", 11)
        assert refused.status_code == 503
        assert refused.json()["error"]["code"] == "broker_unavailable" and refused.headers["Retry-After"]
    assert sum(JobStore(database_url).counts_by_state().values()) == 0
