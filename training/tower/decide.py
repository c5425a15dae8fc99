"""Answer-or-abstain rules shared by training-time evaluation and (mirrored in numpy) the runtime.

An attribute is answered only when (1) the head's probability clears its calibrated threshold, (2) the index's
neighbour vote, when it has an opinion, agrees, and (3) the query looks like the index's own items (its best
neighbour similarity is not below a low percentile of the index's leave-one-out best similarities).
"""

from __future__ import annotations

import numpy as np


def knn_vote(query: np.ndarray, index: np.ndarray, labels: np.ndarray, classes: int, k: int = 10,
             temperature: float = 0.05, exclude: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(vote distribution [Q, classes], best similarity [Q]); labels -100 = unknown (weight stays in the total).

    `exclude[q]` (a group id per query, compared with `index_groups`) is handled by the caller passing -inf sims."""
    sims = query @ index.T
    if exclude is not None:
        sims = np.where(exclude, -np.inf, sims)
    top = np.argpartition(-sims, k, axis=1)[:, :k]
    top_sims = np.take_along_axis(sims, top, 1)
    best = top_sims.max(1)
    weights = np.exp((top_sims - best[:, None]) / temperature)
    weights /= weights.sum(1, keepdims=True)
    dist = np.zeros((len(query), classes))
    top_labels = labels[top]
    for c in range(classes):
        dist[:, c] = (weights * (top_labels == c)).sum(1)
    return dist, best


def threshold_for(confidence: np.ndarray, correct: np.ndarray, target: float, min_answered: int = 30) -> float:
    """The lowest confidence threshold whose answered accuracy (on calibration data) reaches `target`."""
    order = np.argsort(-confidence)
    hits = np.cumsum(correct[order]) / np.arange(1, len(order) + 1)
    ok = [i for i in range(min_answered - 1, len(order)) if hits[i] >= target]
    if not ok:
        return 1.01  # never answer
    # the largest answered set whose accuracy still reaches the target
    return float(confidence[order][max(ok)])


def answer(probs: np.ndarray, threshold: float, vote: np.ndarray | None = None, best_sim: np.ndarray | None = None,
           min_sim: float | None = None) -> np.ndarray:
    """Predicted class per row, or -1 (abstain)."""
    predicted = probs.argmax(1)
    keep = probs.max(1) >= threshold
    if vote is not None:
        has_opinion = vote.sum(1) > 0
        keep &= ~has_opinion | (vote.argmax(1) == predicted)
    if best_sim is not None and min_sim is not None:
        keep &= best_sim >= min_sim
    return np.where(keep, predicted, -1)
