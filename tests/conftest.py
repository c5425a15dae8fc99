"""Fixtures that tests in more than one folder use: the team data folder and the data read from it, the bundled
detector, a private real Redis, the PostgreSQL test database (one per test, SQLite or a private schema), the
language stage's evidence pack and fake LLM endpoint. Fixtures one folder uses live in that folder's conftest.py."""

from __future__ import annotations

import csv
import importlib.util
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy

from pixels2posts.catalog.reader import CatalogItem
from pixels2posts.services import start_redis, stop_redis
from shared.ports import free_port
from shared.schemas import EvidencePack
from shared.store import migrate
from tests.support import fake_openai
from tests.support.packs import make_pack

# Ultralytics (imported by the training tests) must never pip-install or reach the network from a test run
os.environ.setdefault("YOLO_AUTOINSTALL", "false")
os.environ.setdefault("YOLO_OFFLINE", "true")

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = (REPO_ROOT.parent / "shared").resolve()
# committed CC0 photos (tests/data/clothing-photos/README.md): model and end-to-end tests run without ../shared
SAMPLE_PHOTOS = REPO_ROOT / "tests" / "data" / "clothing-photos" / "images"
MODEL = REPO_ROOT / "models" / "detector" / "garments-yolov8n.onnx"


def ultralytics_assets() -> Path:
    """The sample photos Ultralytics ships (train extra), located without importing it (importing ultralytics
    patches PIL's image opening process-wide)."""
    spec = importlib.util.find_spec("ultralytics")
    assert spec is not None and spec.submodule_search_locations, "ultralytics (train extra) provides two photos"
    return Path(next(iter(spec.submodule_search_locations))) / "assets"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """`../shared` beside the checkout. Missing in CI is an error, not a skip."""
    if not (SHARED_DATA / "data").is_dir():
        message = f"team data folder {SHARED_DATA} is missing; tests that train or evaluate need it"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return SHARED_DATA


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A private Redis started for this test session (real server, private port), stopped afterwards."""
    state = tmp_path_factory.mktemp("redis")
    port = free_port()
    server = start_redis(port, state)
    try:
        yield server.url
    finally:
        stop_redis(port, state)


@pytest.fixture()
def redis_url(redis_server: str) -> Iterator[str]:
    """The private Redis, flushed before each test."""
    import redis

    client = redis.Redis.from_url(redis_server)
    client.flushall()
    yield redis_server
    client.close()


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The real PostgreSQL test database (scripts/postgres.sh makes sure it runs)."""
    url = os.environ.get("P2P_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    import sqlalchemy

    engine = sqlalchemy.create_engine(url)
    try:
        with engine.connect():
            pass
    except sqlalchemy.exc.OperationalError as exc:
        pytest.fail(f"PostgreSQL at {url} is not reachable (run scripts/postgres.sh): {exc}")
    finally:
        engine.dispose()
    return url


@pytest.fixture()
def pg_schema_url(postgres_url: str) -> Iterator[str]:
    """A private schema in the real PostgreSQL test database, dropped afterwards."""
    schema = f"p2p_{uuid.uuid4().hex[:12]}"
    admin = sqlalchemy.create_engine(postgres_url)
    with admin.begin() as connection:
        connection.execute(sqlalchemy.text(f"CREATE SCHEMA {schema}"))
    separator = "&" if "?" in postgres_url else "?"
    yield f"{postgres_url}{separator}options=-csearch_path%3D{schema}"
    with admin.begin() as connection:
        connection.execute(sqlalchemy.text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database: each test runs once on SQLite and once on the real PostgreSQL."""
    is_sqlite = request.param == "sqlite"
    url = f"sqlite:///{tmp_path / 'jobs.db'}" if is_sqlite else request.getfixturevalue("pg_schema_url")
    migrate(url)
    return url


@pytest.fixture(scope="session")
def model_path() -> Path:
    assert MODEL.is_file(), f"bundled detector missing: {MODEL}"
    return MODEL


def copy_subset(shared_dir: Path, out: Path, count: int) -> Path:
    """The first `count` test images (sorted) with their labels, as out/images + out/labels."""
    source = shared_dir / "data" / "colorful-fashion" / "test"
    (out / "images").mkdir(parents=True)
    (out / "labels").mkdir(parents=True)
    for image in sorted((source / "images").glob("*.jpg"))[:count]:
        shutil.copyfile(image, out / "images" / image.name)
        shutil.copyfile(source / "labels" / f"{image.stem}.txt", out / "labels" / f"{image.stem}.txt")
    return out


@pytest.fixture(scope="session")
def test_subset(shared_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """48 test-split images + labels in a private folder."""
    return copy_subset(shared_dir, tmp_path_factory.mktemp("cf-test"), 48)


@pytest.fixture(scope="session")
def catalogue_items() -> list[CatalogItem]:
    """Eight products of a made-up catalogue over the committed CC0 photos, one label each. The index and embedder
    tests need real pictures, not truth: the genders (3 women, 3 men, 2 kids) are the catalogue's say, as a shop's."""
    with (SAMPLE_PHOTOS.parent / "images.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    first_of_label: dict[str, dict[str, str]] = {}
    for row in rows:
        first_of_label.setdefault(row["label"], row)
    genders = ["women"] * 3 + ["men"] * 3 + ["kids"] * 2
    picked = list(first_of_label.values())[:8]
    return [CatalogItem(id=row["image"], image=str(SAMPLE_PHOTOS / f"{row['image']}.jpg"), title=row["label"],
                        gender=gender, group=row["sender_id"]) for row, gender in zip(picked, genders, strict=True)]


@pytest.fixture()
def office_pack() -> EvidencePack:
    """A navy jacket over a white shirt, beige trousers and black shoes; cotton; women."""
    return make_pack(
        [("jacket", ["navy", "white"]), ("shirt", ["white"]), ("pants", ["beige"]), ("shoe", ["black"])],
        fabric="cotton",
        gender="women",
        style_examples=["Relaxed-fit jacket in soft cotton twill with notch lapels."],
    )


@pytest.fixture()
def fake_llm() -> Iterator[fake_openai.FakeOpenAI]:
    """A fresh fake endpoint per test (its own port, so no learned endpoint state leaks between tests)."""
    state, server = fake_openai.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
