"""Attribute evaluation on held-out H&M products (runtime parts only: ONNX embedder, FAISS index, colours).

Retrieval: test-split products (never in the index, which holds train-split products) are embedded from their
image alone, their neighbours vote gender and fabric; compared with the catalogue labels.
Colour: the top named colour's family vs H&M `perceived_colour_master_name`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pixels2posts.catalog.build import embed_items
from pixels2posts.catalog.reader import CatalogItem, read_hm_articles, split_of
from shared.images import load_image
from shared.palette import FAMILY_OF
from workers.vision.colours import dominant_colours
from workers.vision.embedder import ClipEmbedder
from workers.vision.index import ProductIndex
from workers.vision.retrieval import VOTED_ATTRIBUTES, Calibrator, vote


def macro_f1(truth: Sequence[str], predicted: Sequence[str | None]) -> float:
    scores = []
    for label in sorted(set(truth)):
        tp = sum(t == label and p == label for t, p in zip(truth, predicted, strict=True))
        fp = sum(t != label and p == label for t, p in zip(truth, predicted, strict=True))
        fn = sum(t == label and p != label for t, p in zip(truth, predicted, strict=True))
        scores.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return float(np.mean(scores)) if scores else 0.0


def test_items(catalog_dir: Path, limit: int | None = None) -> list[CatalogItem]:
    items = [item for item in read_hm_articles(catalog_dir) if split_of(item.group) == "test"]
    return items[:limit] if limit else items


def evaluate_retrieval(items: Sequence[CatalogItem], embedder: ClipEmbedder, index: ProductIndex, k: int,
                       thresholds: Mapping[str, float]) -> dict[str, Any]:
    vectors, kept, _ = embed_items(items, embedder)
    scores, rows = index.search(vectors, k)
    calibrator = Calibrator(index.manifest.get("calibration"))
    train_labels = [index.item(r) for r in range(index.count)]
    report: dict[str, Any] = {"queries": len(kept), "k": k, "thresholds": dict(thresholds)}
    for name in VOTED_ATTRIBUTES:
        truth, predicted, confident = [], [], []
        for item, row_scores, row_found in zip(kept, scores, rows, strict=True):
            expected = item.labels()[name]
            if expected is None:
                continue
            found = [(train_labels[r].get(name), s) for s, r in zip(row_scores, row_found, strict=True) if r >= 0]
            one = vote([label for label, _ in found], [s for _, s in found])
            truth.append(expected)
            predicted.append(one.value)
            confident.append(calibrator(name, one.share) >= thresholds[name] and one.value is not None)
        majority = Counter(lab.get(name) for lab in train_labels if lab.get(name)).most_common(1)[0][0]
        hits = [t == p for t, p in zip(truth, predicted, strict=True)]
        sure = [h for h, c in zip(hits, confident, strict=True) if c]
        report[name] = {
            "n": len(truth), "accuracy": float(np.mean(hits)), "macro_f1": macro_f1(truth, predicted),
            "majority_label": majority, "majority_baseline": float(np.mean([t == majority for t in truth])),
            "coverage_at_threshold": float(np.mean(confident)),
            "accuracy_at_threshold": float(np.mean(sure)) if sure else 0.0,
        }
    return report


def evaluate_colours(items: Sequence[CatalogItem]) -> dict[str, Any]:
    hits: list[bool] = []
    confusions: Counter[str] = Counter()
    for item in items:
        if item.colour is None:
            continue
        colours = dominant_colours(load_image(item.image).rgb)
        family = FAMILY_OF[colours[0].name] if colours else None
        hits.append(family == item.colour)
        if family != item.colour:
            confusions[f"{item.colour}->{colours[0].name if colours else None}"] += 1
    return {"n": len(hits), "accuracy": float(np.mean(hits)) if hits else 0.0,
            "top_confusions": confusions.most_common(8)}
