"""The bad-input corpus (tests/data/bad): every file and request is refused with a 4xx and an error code by the
real API process, over a real Redis and database; nothing is stored or queued; the API stays up throughout. The
valid oddities (16-bit, CMYK, palette, alpha, EXIF-rotated) are accepted."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from producer.auth import key_digest
from shared.ports import free_port
from shared.store import JobStore
from tests.data.bad import make_corpus
from tests.faults.procs import api_up, running, start, wait_for

pytestmark = pytest.mark.slow

KEY = "bad-input-key"
BAD = Path(make_corpus.__file__).resolve().parent
MANIFEST = json.loads((BAD / "manifest.json").read_text())


@pytest.fixture(scope="module")
def api(redis_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    state = tmp_path_factory.mktemp("bad-input")
    port = free_port()
    env = {
        **os.environ, "P2P_BROKER_URL": redis_server, "P2P_DATABASE_URL": f"sqlite:///{state / 'jobs.db'}",
        "P2P_DATA_DIR": str(state), "P2P_BLOB_DIR": str(state / "blobs"), "P2P_API_KEYS": key_digest(KEY),
        "P2P_WEBHOOK_SECRET": "a-real-secret-for-the-corpus-0123456789", "P2P_MAX_IMAGE_BYTES": "1000000",
    }
    redis.Redis.from_url(redis_server).flushall()
    with running(start(["api", "--port", str(port)], env, state / "api.log")):
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: api_up(base), 60, "the API to start")
        with httpx.Client(base_url=base, headers={"X-API-Key": KEY}, timeout=30) as client:
            yield {"client": client, "base": base, "env": env, "log": state / "api.log"}


def nothing_kept(api: dict[str, Any]) -> None:
    env = api["env"]
    assert redis.Redis.from_url(env["P2P_BROKER_URL"]).llen("vision") == 0
    assert sum(JobStore(env["P2P_DATABASE_URL"]).counts_by_state().values()) == 0
    blobs = Path(env["P2P_BLOB_DIR"])
    assert not blobs.exists() or not any(p.is_file() for p in blobs.rglob("*"))


def check_refusal(response: httpx.Response, status: int | list[int], codes: list[str], name: str) -> None:
    assert 400 <= response.status_code < 500, f"{name}: {response.status_code} {response.text[:300]}"
    allowed = status if isinstance(status, list) else [status]
    assert response.status_code in allowed, f"{name}: {response.status_code} {response.text[:300]}"
    code = response.json()["error"]["code"]
    assert code in codes, f"{name}: code {code!r} not in {codes}"


def test_the_corpus_is_big_enough() -> None:
    assert len(MANIFEST["uploads"]) + len(make_corpus.requests()) >= 200


@pytest.mark.parametrize("entry", MANIFEST["uploads"], ids=[e["file"] for e in MANIFEST["uploads"]])
def test_given_a_bad_file_when_uploaded_then_4xx_with_a_code_and_nothing_kept(
    api: dict[str, Any], entry: dict[str, Any]
) -> None:
    data = (BAD / "files" / entry["file"]).read_bytes()
    response = api["client"].post("/v1/jobs", files={"image": (entry["file"], data, "image/jpeg")},
                                  data={"sku": "BAD-1"})
    check_refusal(response, entry["status"], entry["codes"], entry["file"])
    nothing_kept(api)


REQUESTS = make_corpus.requests()


@pytest.mark.parametrize("entry", REQUESTS, ids=[e["name"] for e in REQUESTS])
def test_given_a_bad_request_then_4xx_with_a_code_and_nothing_kept(api: dict[str, Any], entry: dict[str, Any]) -> None:
    body = base64.b64decode(entry["body_b64"])
    headers = {"Content-Type": entry["content_type"]} if entry["content_type"] else {}
    content: Any = body
    if entry["chunked"]:  # no Content-Length: the cap must hold on the stream itself
        content = (body[at : at + 65536] for at in range(0, len(body), 65536))
    try:
        response = api["client"].post(entry["path"], content=content, headers=headers)
    except httpx.RemoteProtocolError:  # the server may close a refused stream early; it must still be up
        assert entry["chunked"], entry["name"]
    else:
        check_refusal(response, entry["status"], entry["codes"], entry["name"])
    assert api_up(api["base"]), f"API down after {entry['name']}"
    nothing_kept(api)


def test_given_valid_but_unusual_photos_then_accepted(api: dict[str, Any]) -> None:
    for entry in MANIFEST["valid_oddities"]:
        data = (BAD / "files" / entry["file"]).read_bytes()
        response = api["client"].post("/v1/jobs", files={"image": (entry["file"], data, "image/jpeg")})
        assert response.status_code == 202, f"{entry['file']}: {response.text}"
    assert redis.Redis.from_url(api["env"]["P2P_BROKER_URL"]).llen("vision") == len(MANIFEST["valid_oddities"])
    assert api_up(api["base"])
