"""The compiled colour kernels give the numpy reference's values to the last bit: the packs' colours, and the
statement gates picked on them, must not move with the speed-up."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from shared.settings import REPO_ROOT
from workers.vision import colour_model, colours, compiled
from workers.vision.colour_model import _nearest_palette, _nearest_palette_numpy, colour_features
from workers.vision.colours import _cluster_sums, _cluster_sums_numpy, _nearest, _nearest_numpy, cluster_batch


@pytest.fixture()
def planes() -> np.ndarray:
    """(3, M, P) float32 Lab-like coordinates, with repeated values so that distances tie."""
    rng = np.random.default_rng(3)
    return np.round(rng.normal(0, 30, (3, 40, 576)), 1).astype(np.float32)


def test_the_kernels_are_compiled_where_the_runtime_extras_are_installed() -> None:
    assert compiled.NUMBA and hasattr(compiled.nearest_centres, "py_func")


def test_given_centres_with_ties_when_nearest_then_labels_and_distances_equal_numpys(planes: np.ndarray) -> None:
    # Given each set's centres drawn from its own points, one centre repeated (every distance to it ties)
    rng = np.random.default_rng(4)
    picks = rng.integers(0, planes.shape[2], (planes.shape[1], colours.CLUSTERS))
    centres = np.ascontiguousarray(planes[:, np.arange(planes.shape[1])[:, None], picks].transpose(1, 2, 0))
    centres[:, 3] = centres[:, 1]
    # When labelled, Then the first of equal centres wins and every float32 distance is numpy's
    labels, distances = _nearest(planes, centres)
    expected_labels, expected_distances = _nearest_numpy(planes, centres)
    assert np.array_equal(labels, expected_labels) and np.array_equal(distances, expected_distances)
    assert not (labels == 3).any()


def test_given_labels_and_masked_weights_when_summed_then_numpys_bincount_sums(planes: np.ndarray) -> None:
    rng = np.random.default_rng(5)
    labels = rng.integers(0, colours.CLUSTERS, planes.shape[1:]).astype(np.intp)
    # weights of any value (the pipeline's are 0/1), so a product rounded in other precision would show
    weights = (rng.random(planes.shape[1:]) * (rng.random(planes.shape[1:]) < 0.7)).astype(np.float32)
    sizes, sums = _cluster_sums(planes, labels, weights)
    expected_sizes, expected_sums = _cluster_sums_numpy(planes, labels, weights)
    assert np.array_equal(sizes, expected_sizes) and np.array_equal(sums, expected_sums)


def test_given_lab_pixels_when_named_by_palette_then_numpys_nearest_palette_colour() -> None:
    rng = np.random.default_rng(6)
    lab = np.concatenate([rng.uniform([0, -80, -80], [100, 80, 80], (5000, 3)),
                          colour_model._PALETTE_LAB32[rng.integers(0, 37, 200)]]).astype(np.float32)
    assert np.array_equal(_nearest_palette(lab), _nearest_palette_numpy(lab))


def test_given_real_crops_when_clustered_then_the_same_stats_and_features_as_numpy(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Given garment-like crops (flat patches, a border of another colour, one tiny crop)
    rng = np.random.default_rng(8)
    crops = []
    for size in ((120, 80), (300, 200), (9, 9), (64, 400)):
        crop = np.full((*size, 3), rng.integers(0, 256, 3), np.uint8)
        crop[size[0] // 4: -size[0] // 4, size[1] // 4: -size[1] // 4] = rng.integers(0, 256, 3)
        crops.append(crop + rng.integers(0, 12, crop.shape).astype(np.uint8))
    # When clustered and featurised with the kernels, and again with numpy only
    stats = cluster_batch(crops)
    features = colour_features(stats)
    monkeypatch.setattr(colours, "NUMBA", False)
    monkeypatch.setattr(colour_model, "NUMBA", False)
    reference = cluster_batch(crops)
    # Then the same centres, shares and features, bit for bit
    assert np.array_equal(stats.centres, reference.centres) and np.array_equal(stats.shares, reference.shares)
    assert np.array_equal(features, colour_features(reference))


WARMED_UP_BATCH = """
import sys
from shared.images import load_image
from workers.vision import compiled, flat_search, resize
from workers.vision.index import faiss_module
from workers.vision.pipeline import VisionPipeline

compiled.warm_up_kernels()
kernels = [getattr(module, name) for module in (compiled, resize, flat_search) for name in dir(module)
           if hasattr(getattr(module, name), "signatures")]
kernels += [scan for scan in [flat_search.compiled_scan(faiss_module())] if scan is not None]
before = [len(kernel.signatures) for kernel in kernels]
pipeline = VisionPipeline()
packs = pipeline.evidence_batch([load_image(path, min_side=pipeline.min_side) for path in sys.argv[1:]])
assert any(pack.garments for pack in packs), "no garment: the colour kernels did not run"
new = [kernel.__name__ for kernel, count in zip(kernels, before) if len(kernel.signatures) != count]
print("compiled during the batch:", new)
sys.exit(1 if new else 0)
"""


def test_given_warmed_up_kernels_when_real_photos_go_through_then_nothing_compiles(photos: list[Path]) -> None:
    # Given a fresh process (nothing compiled yet) whose kernels are warmed up as a vision worker's are
    # When decoded photos (read-only arrays, crops of them) go through the whole pipeline
    run = subprocess.run([sys.executable, "-c", WARMED_UP_BATCH, *map(str, photos[:8])], capture_output=True,
                         text=True, timeout=120, cwd=REPO_ROOT)
    # Then no kernel was compiled for a new array type during the batch
    assert run.returncode == 0, run.stdout + run.stderr
