"""Fixtures of the vision-stage tests: CPU settings, real photos (Ultralytics' two sample photos and the committed
CC0 clothing photos). The bundled detector, catalogue items and test-split images are in tests/conftest.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.settings import Settings
from tests.conftest import SAMPLE_PHOTOS, ultralytics_assets


@pytest.fixture()
def cpu_settings() -> Settings:
    return Settings(ort_providers="cpu", ort_intra_threads=2, detector_batch_size=8)


@pytest.fixture(scope="session")
def photos() -> list[Path]:
    """Ultralytics' bus.jpg (portrait) and zidane.jpg (landscape), people in street clothes, then the 24 committed
    CC0 clothing photos: real pictures on any machine with the train extra, no ../shared needed."""
    assets = ultralytics_assets()
    return [assets / "bus.jpg", assets / "zidane.jpg", *sorted(SAMPLE_PHOTOS.glob("*.jpg"))]


@pytest.fixture(scope="session")
def sample_photos() -> dict[str, Path]:
    """Ultralytics' two photos by name."""
    assets = ultralytics_assets()
    return {"bus": assets / "bus.jpg", "zidane": assets / "zidane.jpg"}
