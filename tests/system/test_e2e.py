"""End to end through real services in separate processes: a private Redis, the real PostgreSQL, both workers
(`pixels2posts worker vision|language`), the API under uvicorn (`pixels2posts api`), Flower, and an
OpenAI-compatible endpoint (the language tests' fake server)."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy
from PIL import Image

from producer import Client
from producer.auth import key_digest
from shared.ports import free_port
from shared.processes import stop_processes
from shared.webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify_signature
from tests.conftest import SAMPLE_PHOTOS
from tests.support import fake_openai
from tests.support.helpers import Reply, http_server, jpeg_bytes

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

JOBS = 50
KEY = "e2e-key"
FLOWER_AUTH = ("ops", "flower-pw")
SECRET = "e2e-webhook-secret"
STAND_IN = "tests.support.stand_in_vision:MeanColourPipeline"
REAL = "workers.vision.pipeline:VisionPipeline"


# the 50-job run uses the real vision stage and its bundled models (P2P_E2E_VISION_STAGE overrides, for debugging)
MAIN_STAGE = os.environ.get("P2P_E2E_VISION_STAGE") or REAL


@dataclass
class Stack:
    api_url: str
    flower_url: str
    vision_metrics_url: str
    language_metrics_url: str
    database_url: str
    processes: dict[str, subprocess.Popen[bytes]]
    log_dir: Path


def wait_until(check: Callable[[], Any], timeout_s: float, what: str, stack: Stack | None = None) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            value = check()
        except (httpx.HTTPError, OSError):
            value = None
        if value:
            return value
        if stack is not None:
            for name, process in stack.processes.items():
                assert process.poll() is None, f"{name} exited: {(stack.log_dir / f'{name}.log').read_text()[-3000:]}"
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")


def grounded_answer(body: dict[str, Any]) -> fake_openai.Action:
    """Answer like a good model: name what the prompt says the caption must mention."""
    match = re.search(r"MUST MENTION: (.+)", body["messages"][-1]["content"])
    phrase = match.group(1).strip() if match else "outfit"
    return fake_openai.answer(f"A {phrase} for every day.", ["#" + phrase.replace(" ", "")])


@pytest.fixture()
def llm_url() -> Iterator[str]:
    state, server = fake_openai.start()
    state.responder = grounded_answer
    yield state.url
    server.shutdown()
    server.server_close()


@pytest.fixture()
def vision_stage() -> str:
    return STAND_IN


@pytest.fixture()
def shop_catalogue() -> list[dict[str, str]]:
    """The shop's catalogue its vision worker indexes (P2P_INDEX_DIR); none: the bundled index."""
    return []


def build_shop_index(rows: list[dict[str, str]], folder: Path) -> Path:
    """`pixels2posts index build` over the committed photos: the shop's own index, as a shop would make it."""
    catalogue = folder / "shop.jsonl"
    catalogue.write_text("".join(json.dumps(row) + "\n" for row in rows))
    subprocess.run([sys.executable, "-m", "pixels2posts", "index", "build", str(catalogue), "--out",
                    str(folder / "index")], check=True, capture_output=True, timeout=300)
    return folder / "index"


@pytest.fixture()
def stack(
    redis_url: str, pg_schema_url: str, llm_url: str, vision_stage: str, shop_catalogue: list[dict[str, str]],
    tmp_path: Path
) -> Iterator[Stack]:
    ports = {name: free_port() for name in ("api", "flower", "vision", "language")}
    env = {
        **os.environ,
        "P2P_BROKER_URL": redis_url, "P2P_DATABASE_URL": pg_schema_url,
        "P2P_DATA_DIR": str(tmp_path), "P2P_BLOB_DIR": str(tmp_path / "blobs"),
        "P2P_API_KEYS": key_digest(KEY), "P2P_BATCH_SIZE": "8", "P2P_BATCH_WAIT_MS": "100",
        "P2P_LLM_BASE_URL": llm_url, "P2P_LLM_MODEL": "fake-model", "P2P_LLM_TIMEOUT_S": "10",
        "P2P_LLM_RATE_LIMIT_PER_S": "1000", "P2P_LANGUAGE_CONCURRENCY": "8", "P2P_ORT_INTRA_THREADS": "1",
        "P2P_ALLOW_PRIVATE_URLS": "true", "P2P_WEBHOOK_SECRET": SECRET,
    }
    if shop_catalogue:
        env["P2P_INDEX_DIR"] = str(build_shop_index(shop_catalogue, tmp_path))
    cli = [sys.executable, "-m", "pixels2posts"]
    commands = {
        "flower": [sys.executable, "-m", "celery", "-A", "workers.celery_app", "flower", "--address=127.0.0.1",
                   f"--port={ports['flower']}", f"--basic-auth={':'.join(FLOWER_AUTH)}"],
        "vision": [*cli, "worker", "vision", "--metrics-port", str(ports["vision"]), "--metrics-host",
                   "127.0.0.1", "--stage-class", vision_stage, "-n", "vision@e2e"],
        "language": [*cli, "worker", "language", "--metrics-port", str(ports["language"]), "--metrics-host",
                     "127.0.0.1", "-n", "language@e2e"],
        "api": [*cli, "api", "--host", "127.0.0.1", "--port", str(ports["api"])],
    }
    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    processes: dict[str, subprocess.Popen[bytes]] = {}
    for name, argv in commands.items():
        with (log_dir / f"{name}.log").open("wb") as log:
            processes[name] = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)
    running = Stack(f"http://127.0.0.1:{ports['api']}", f"http://127.0.0.1:{ports['flower']}",
                    f"http://127.0.0.1:{ports['vision']}/metrics",
                    f"http://127.0.0.1:{ports['language']}/metrics", pg_schema_url, processes, log_dir)
    try:
        wait_until(lambda: httpx.get(f"{running.api_url}/healthz").is_success, 60, "the API", running)
        wait_until(lambda: {"vision@e2e", "language@e2e"} <= set(flower_workers(running)), 90,
                   "both workers in Flower", running)
        yield running
    finally:
        stop_processes(processes.values(), grace_s=45)


def flower_workers(stack: Stack) -> dict[str, Any]:
    response = httpx.get(f"{stack.flower_url}/api/workers", params={"refresh": "true"}, auth=FLOWER_AUTH,
                         timeout=10)
    workers: dict[str, Any] = response.json() if response.is_success else {}
    return workers


def flower_task_states(stack: Stack) -> Counter[tuple[str, str]]:
    tasks = httpx.get(f"{stack.flower_url}/api/tasks", params={"limit": 1000}, auth=FLOWER_AUTH, timeout=10)
    return Counter((task["name"], task["state"]) for task in tasks.json().values())


def wait_for_flower(stack: Stack, expected: Counter[tuple[str, str]]) -> Counter[tuple[str, str]]:
    """Flower's (task, state) counts once they equal `expected`; the last counts seen in the failure otherwise."""
    seen: list[Counter[tuple[str, str]]] = [Counter()]

    def matches() -> Counter[tuple[str, str]] | None:
        seen.append(flower_task_states(stack))
        return seen[-1] if seen[-1] == expected else None

    try:
        return wait_until(matches, 30, "Flower's task list")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; Flower last showed {dict(seen[-1])}, expected {dict(expected)}") from exc


def metric(text: str, name: str) -> float:
    match = re.search(rf"^{re.escape(name)} ([0-9.e+]+)$", text, re.M)
    assert match, f"{name} not in metrics"
    return float(match.group(1))


def photos(vision_stage: str) -> list[bytes]:
    """One photo per job: the committed CC0 clothing photos for the real stage (24, cycled: with the SKUs below no
    two jobs are the same), distinct synthetic ones for the stand-in."""
    if vision_stage == STAND_IN:
        return [jpeg_bytes(seed) for seed in range(JOBS)]
    sample = [path.read_bytes() for path in sorted(SAMPLE_PHOTOS.glob("*.jpg"))]
    assert len(sample) == 24, "tests/data/clothing-photos holds 24 photos"
    return [sample[n % len(sample)] for n in range(JOBS)]


# the shop's catalogue knows SKU-3 (a kids' product) and SKU-4; the SKUs 0 to 2 are not in it
SHOP_CATALOGUE = [{"id": "SKU-3", "image": str(sorted(SAMPLE_PHOTOS.glob("*.jpg"))[3]), "gender": "kids",
                   "category": "Hoodie"},
                  {"id": "SKU-4", "image": str(sorted(SAMPLE_PHOTOS.glob("*.jpg"))[4]), "gender": "men"}]


@pytest.mark.parametrize("vision_stage, shop_catalogue", [(MAIN_STAGE, SHOP_CATALOGUE if MAIN_STAGE == REAL else [])])
def test_given_the_running_stack_when_50_jobs_arrive_concurrently_then_all_succeed_in_batches(
    stack: Stack, vision_stage: str, shop_catalogue: list[dict[str, str]]
) -> None:
    images = photos(vision_stage)
    with Client(stack.api_url, KEY) as client, ThreadPoolExecutor(16) as pool:
        accepted = list(pool.map(lambda n: client.submit_file(images[n], sku=f"SKU-{n % 5}"), range(JOBS)))
        assert all(not answer["duplicate"] for answer in accepted)
        finished = list(pool.map(lambda a: client.wait(a["job_id"], timeout_s=150, poll_s=1), accepted))
        duplicate = client.submit_file(images[0], sku="SKU-0")
        captions = client.captions("SKU-3")

    failures = [job for job in finished if job["status"] != "succeeded"]
    assert not failures, failures[:3]
    assert duplicate == {"job_id": accepted[0]["job_id"], "status": "succeeded", "duplicate": True}
    assert len(captions["captions"]) == JOBS // 5
    for job in finished:
        assert job["result"]["evidence"]["image"]["sha256"] == job["image_sha256"]
        assert job["result"]["caption"]
    if shop_catalogue:  # the shop's catalogue row of a job's SKU is evidence, marked as the shop's
        genders = {(job["sku"], json.dumps(job["result"]["evidence"]["attributes"]["gender"], sort_keys=True))
                   for job in finished}
        kids = json.dumps({"confidence": 1.0, "source": "shop_catalogue", "value": "kids"}, sort_keys=True)
        assert {gender for sku, gender in genders if sku == "SKU-3"} == {kids}
        assert {json.loads(gender)["value"] for sku, gender in genders if sku == "SKU-4"} == {"men"}
        assert all("shop_catalogue" not in gender for sku, gender in genders if sku in ("SKU-0", "SKU-1", "SKU-2"))

    batches = httpx.get(stack.vision_metrics_url).text
    assert metric(batches, "p2p_vision_batch_size_sum") == JOBS
    assert metric(batches, "p2p_vision_batch_size_count") < JOBS  # so some batch held more than one job
    assert metric(batches, 'p2p_vision_batch_size_bucket{le="1.0"}') < metric(
        batches, "p2p_vision_batch_size_count")

    language = httpx.get(stack.language_metrics_url).text
    assert metric(language, "p2p_llm_attempts_total") >= JOBS
    if vision_stage == STAND_IN:  # its packs are simple enough that the fake model's caption always passes
        assert metric(language, "p2p_llm_fallbacks_total") == 0
    assert metric(language, "p2p_llm_fallbacks_total") < JOBS
    assert metric(language, 'p2p_jobs_total{outcome="succeeded",stage="language"}') == JOBS

    expected = Counter({("p2p.vision", "SUCCESS"): JOBS, ("p2p.language", "SUCCESS"): JOBS})
    states = wait_for_flower(stack, expected)
    assert states == expected

    engine = sqlalchemy.create_engine(stack.database_url)
    with engine.connect() as connection:
        rows = connection.execute(sqlalchemy.text(
            "SELECT state, count(*), count(result), sum(deliveries) FROM jobs GROUP BY state")).all()
    engine.dispose()
    assert [tuple(row) for row in rows] == [("succeeded", JOBS, JOBS, JOBS)]


def test_given_a_bad_photo_among_good_ones_when_batched_then_only_its_job_fails_and_all_call_back(
    stack: Stack,
) -> None:
    black = io.BytesIO()
    Image.new("RGB", (64, 96)).save(black, format="JPEG")
    photos = [jpeg_bytes(100 + n) for n in range(7)] + [black.getvalue()]
    replies = iter([Reply(503)])  # the receiver's first answer is an outage: that webhook is retried
    hook = {"/hook": lambda _b, _h: next(replies, Reply(204))}
    with http_server(hook) as (base, received), Client(stack.api_url, KEY) as client, ThreadPoolExecutor(8) as pool:
        accepted = list(pool.map(lambda p: client.submit_file(p, callback_url=f"{base}/hook"), photos))
        finished = list(pool.map(lambda a: client.wait(a["job_id"], timeout_s=60, poll_s=0.5), accepted))
        wait_until(lambda: len(received) >= 9, 30, "the webhooks")

    assert [job["status"] for job in finished] == ["succeeded"] * 7 + ["failed"]
    assert finished[-1]["error"] == {"code": "invalid_image", "message": "no garment found in an all-black photo"}
    assert len(received) == 9
    for request in received:
        assert verify_signature(SECRET, request.body, request.headers[TIMESTAMP_HEADER.lower()],
                                request.headers[SIGNATURE_HEADER.lower()])
    called_back = {json.loads(r.body)["job_id"]: json.loads(r.body) for r in received}
    assert called_back == {job["job_id"]: job for job in finished}  # the webhook posts exactly the GET body
    expected = Counter({("p2p.vision", "SUCCESS"): 7, ("p2p.vision", "FAILURE"): 1,
                        ("p2p.language", "SUCCESS"): 7, ("p2p.webhook", "SUCCESS"): 8})
    assert wait_for_flower(stack, expected)
