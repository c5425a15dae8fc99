"""Detector test fixtures: the bundled model, photos that travel with the checkout, and small private copies of
test-split images (never written into ../shared: Ultralytics drops label caches beside the images it reads)."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest

from shared.settings import REPO_ROOT, Settings
from tests.conftest import SAMPLE_PHOTOS

MODEL = REPO_ROOT / "models" / "detector" / "garments-yolov8n.onnx"


@pytest.fixture(scope="session")
def model_path() -> Path:
    assert MODEL.is_file(), f"bundled detector missing: {MODEL}"
    return MODEL


@pytest.fixture()
def cpu_settings() -> Settings:
    return Settings(ort_providers="cpu", ort_intra_threads=2, detector_batch_size=8)


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
def photos() -> list[Path]:
    """Ultralytics' bus.jpg (portrait) and zidane.jpg (landscape), people in street clothes, then the 24 committed
    CC0 clothing photos: real pictures on any machine with the train extra, no ../shared needed."""
    # located without importing ultralytics (importing it patches PIL's image opening)
    spec = importlib.util.find_spec("ultralytics")
    assert spec is not None and spec.submodule_search_locations, "ultralytics (train extra) provides two photos"
    assets = Path(next(iter(spec.submodule_search_locations))) / "assets"
    return [assets / "bus.jpg", assets / "zidane.jpg", *sorted(SAMPLE_PHOTOS.glob("*.jpg"))]
