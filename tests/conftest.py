"""Fixtures every area's tests share: the team data folder, a private real Redis, the PostgreSQL test database."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from pixels2posts.services import start_redis, stop_redis
from shared.ports import free_port

# Ultralytics (imported by the training tests) must never pip-install or reach the network from a test run
os.environ.setdefault("YOLO_AUTOINSTALL", "false")
os.environ.setdefault("YOLO_OFFLINE", "true")

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = (REPO_ROOT.parent / "shared").resolve()
# committed CC0 photos (tests/data/clothing-photos/README.md): model and end-to-end tests run without ../shared
SAMPLE_PHOTOS = REPO_ROOT / "tests" / "data" / "clothing-photos" / "images"


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
