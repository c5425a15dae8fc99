"""Pick the vote temperature on TRAIN products only: leave-product-out queries against the index itself."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from workers.vision.index import ProductIndex
from workers.vision.retrieval import VOTED_ATTRIBUTES, held_out_neighbours, vote


def leave_product_out_accuracy(index: ProductIndex, k: int, temperature: float, sample: int = 2000,
                               seed: int = 0) -> dict[str, float]:
    labels = [index.item(r) for r in range(index.count)]
    rows = np.random.default_rng(seed).choice(len(labels), min(sample, len(labels)), replace=False)
    scores, found = index.search(index.vectors()[rows], k + 20)
    result = {}
    for name in VOTED_ATTRIBUTES:
        hits = []
        for query, kept in held_out_neighbours(labels, rows, scores, found, k):
            truth = labels[query].get(name)
            if truth is None:
                continue
            hits.append(vote([labels[r].get(name) for _, r in kept], [s for s, _ in kept], temperature).value
                        == truth)
        result[name] = float(np.mean(hits))
    return result


if __name__ == "__main__":
    index = ProductIndex(Path(sys.argv[1]))
    for k in (5, 10, 20, 40):
        for temperature in (0.01, 0.02, 0.05, 0.1, 1.0):
            print(k, temperature, leave_product_out_accuracy(index, k, temperature))
