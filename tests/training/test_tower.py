"""The product tower's training side: pretrained weights map onto our EfficientNet-Lite0, labels map onto types."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import ultralytics_assets
from training.tower.labels import CLOTHING_PHOTOS_LABEL, HM_PRODUCT_TYPE
from workers.vision.garment_types import COARSE, GARMENT_TYPES

JERSEY_T_SHIRT = 610  # ImageNet class "jersey, T-shirt, tee shirt"
BUS_CLASSES = {654, 779, 874}  # ImageNet "minibus", "school bus", "trolleybus"


def test_the_wheel_weights_recognise_a_t_shirt(shared_dir: Path) -> None:
    torch = pytest.importorskip("torch")
    from training.tower.backbone import load_pretrained
    from training.tower.data import load_square
    from training.tower.features import normalise

    folder = shared_dir / "data/clothing-photos"
    with (folder / "images.csv").open() as handle:
        shirts = [r["image"] for r in csv.DictReader(handle) if r["label"] == "T-Shirt"][:4]
    batch = np.stack([load_square(str(folder / "images" / f"{name}.jpg"), 192) for name in shirts])
    with torch.no_grad():
        top3 = load_pretrained()(normalise(batch)).topk(3, dim=1).indices
    assert sum(JERSEY_T_SHIRT in row for row in top3.tolist()) >= 3


def test_the_wheel_weights_recognise_the_bus_in_ultralytics_bus_jpg() -> None:
    """The same weight-mapping check on a photo that ships with the train extra: runs without ../shared (the two
    T-shirts of the committed sample are hard ones: the ImageNet backbone ranks neither as a jersey)."""
    torch = pytest.importorskip("torch")
    from training.tower.backbone import load_pretrained
    from training.tower.data import load_square
    from training.tower.features import normalise

    bus = ultralytics_assets() / "bus.jpg"
    with torch.no_grad():
        top3 = load_pretrained()(normalise(load_square(str(bus), 192)[None])).topk(3, dim=1).indices[0].tolist()
    assert set(top3) & BUS_CLASSES, top3


def test_every_training_label_maps_onto_a_known_type() -> None:
    assert set(HM_PRODUCT_TYPE.values()) <= set(GARMENT_TYPES)
    assert set(CLOTHING_PHOTOS_LABEL.values()) <= set(GARMENT_TYPES)
    assert {COARSE[t] for t in CLOTHING_PHOTOS_LABEL.values()} <= {None, "shirt", "jacket", "pants", "shorts",
                                                                   "skirt", "dress", "shoe", "hat"}


def test_clothing_photos_split_by_contributor(shared_dir: Path) -> None:
    from training.tower.data import clothing_rows

    rows = clothing_rows(shared_dir / "data/clothing-photos")
    sides: dict[str, set[str]] = {}
    for row in rows:
        sides.setdefault(row.group, set()).add(row.split)
    assert all(len(s) == 1 for s in sides.values())
    assert {r.split for r in rows} == {"train", "calib", "test"}


def test_a_limited_fit_drops_late_train_and_calib_rows_but_keeps_every_test_row() -> None:
    pytest.importorskip("torch")
    from training.tower.train import limit_split

    split = np.asarray(["train", "test", "calib", "train", "test", "calib", "train"])
    limited = limit_split(split, 3)
    assert limited.tolist() == ["train", "test", "calib", "unused", "test", "unused", "unused"]
    assert (limited == "test").sum() == (split == "test").sum()
