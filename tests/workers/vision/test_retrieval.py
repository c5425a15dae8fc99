"""Similarity-weighted votes, calibration, unknown below threshold, style examples."""

from __future__ import annotations

import numpy as np
import pytest

from workers.vision.retrieval import Calibrator, Vote, combine, fit_calibration, style_examples, vote


def test_closer_neighbours_weigh_more() -> None:
    one = vote(["men", "women", "women"], [0.95, 0.80, 0.79])
    assert one.value == "men"
    assert one.share > 0.9


def test_unlabelled_neighbours_dilute_the_vote() -> None:
    full = vote(["denim", "denim"], [0.9, 0.9])
    sparse = vote(["denim", None], [0.9, 0.9])
    assert full.share == pytest.approx(1.0)
    assert sparse.value == "denim" and sparse.share == pytest.approx(0.5)
    assert vote([None, None], [0.9, 0.8]).value is None


def test_combine_weights_garments() -> None:
    mixed = combine([Vote({"women": 1.0}), Vote({"men": 1.0})], [3.0, 1.0])
    assert mixed.value == "women" and mixed.share == pytest.approx(0.75)
    assert combine([], []).value is None


def test_below_threshold_is_unknown_not_guessed() -> None:
    calibrator = Calibrator({"fabric": {"x": [0.0, 0.5, 1.0], "y": [0.1, 0.3, 0.9]}})
    weak = calibrator.attribute("fabric", Vote({"cotton": 0.5, "denim": 0.2}), threshold=0.5)
    strong = calibrator.attribute("fabric", Vote({"denim": 0.95}), threshold=0.5)
    assert (weak.value, weak.confidence) == (None, pytest.approx(0.3))
    assert (strong.value, strong.confidence) == ("denim", pytest.approx(0.84))
    assert Calibrator().attribute("gender", Vote({"men": 0.7}), 0.5).value == "men"


def test_calibration_from_leave_product_out_queries_tracks_accuracy() -> None:
    """Two well separated clusters (men / women) plus a mixed one: confident where the vote is clean."""
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 16))
    vectors, labels = [], []
    for n in range(600):
        cluster = n % 3
        v = centres[cluster] + 0.1 * rng.normal(size=16)
        vectors.append(v / np.linalg.norm(v))
        gender = ["men", "women", rng.choice(["men", "women"])][cluster]
        labels.append({"group": str(n), "gender": gender, "fabric": None})
    data = np.asarray(vectors, np.float32)

    def search(queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        sims = queries @ data.T
        rows = np.argsort(-sims, axis=1)[:, :k]
        return np.take_along_axis(sims, rows, 1), rows

    table = fit_calibration(labels, data, search, k=10, sample=600)
    assert set(table) == {"gender"}  # fabric has no labels to calibrate on
    calibrator = Calibrator(table)
    assert np.all(np.diff(table["gender"]["y"]) >= 0)
    assert calibrator("gender", 1.0) > 0.9
    assert calibrator("gender", 0.5) < 0.7


def test_style_examples_come_from_labels_and_templates_only() -> None:
    neighbours = [
        {"id": "1", "category": "dress", "colour": "black", "fabric": "jersey", "pattern": "solid", "gender": "women"},
        {"id": "2", "category": "dress", "colour": "lilac purple", "fabric": None, "pattern": "stripe",
         "gender": "women"},
        {"id": "3", "category": "shirt", "colour": "white", "fabric": "linen", "pattern": "check", "gender": "men"},
        {"id": "4", "category": None, "colour": "red", "fabric": None, "pattern": None, "gender": None},
    ]
    examples = style_examples(neighbours)
    assert examples == ["black jersey dress", "striped dress", "men's checked shirt"]
    assert style_examples(neighbours, limit=1) == ["black jersey dress"]
