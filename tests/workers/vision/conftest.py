"""Fixtures of the vision-stage tests: CPU settings, real photos (Ultralytics' two sample photos and the committed
CC0 clothing photos). The bundled detector, catalogue items and test-split images are in tests/conftest.py."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from shared.settings import Settings
from tests.conftest import SAMPLE_PHOTOS


@pytest.fixture()
def cpu_settings() -> Settings:
    return Settings(ort_providers="cpu", ort_intra_threads=2, detector_batch_size=8)


@pytest.fixture(scope="session")
def photos() -> list[Path]:
    """Ultralytics' bus.jpg (portrait) and zidane.jpg (landscape), people in street clothes, then the 24 committed
    CC0 clothing photos: real pictures on any machine with the train extra, no ../shared needed."""
    # located without importing ultralytics (importing it patches PIL's image opening)
    spec = importlib.util.find_spec("ultralytics")
    assert spec is not None and spec.submodule_search_locations, "ultralytics (train extra) provides two photos"
    assets = Path(next(iter(spec.submodule_search_locations))) / "assets"
    return [assets / "bus.jpg", assets / "zidane.jpg", *sorted(SAMPLE_PHOTOS.glob("*.jpg"))]


@pytest.fixture(scope="session")
def sample_photos() -> dict[str, Path]:
    import importlib.util

    # locate the package without importing it (importing ultralytics patches PIL's image opening)
    spec = importlib.util.find_spec("ultralytics")
    assert spec is not None and spec.submodule_search_locations, "ultralytics (train extra) provides the photos"
    assets = Path(next(iter(spec.submodule_search_locations))) / "assets"
    return {"bus": assets / "bus.jpg", "zidane": assets / "zidane.jpg"}
