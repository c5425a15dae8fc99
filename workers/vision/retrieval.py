"""Attribute votes from retrieved neighbours, their calibration, and style examples from neighbour labels.

Vote: neighbour i weighs w_i = exp((s_i - s_max) / T) (cosine similarity s_i); the distribution of an attribute is
the weight share of each known value (neighbours without a label keep their weight in the denominator, so sparse
evidence lowers the raw confidence). Calibration maps the winning share to the probability of being right, with an
isotonic fit measured by leave-product-out queries on the index itself (`fit_calibration`), stored in its manifest.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from shared.schemas import Attribute

VOTED_ATTRIBUTES = ("gender", "fabric")
TEMPERATURE = 0.05


@dataclass(frozen=True)
class Vote:
    distribution: dict[str, float] = field(default_factory=dict)  # value -> weight share (sums to <= 1)

    @property
    def value(self) -> str | None:
        return max(self.distribution, key=self.distribution.__getitem__) if self.distribution else None

    @property
    def share(self) -> float:
        return max(self.distribution.values()) if self.distribution else 0.0


def neighbour_weights(scores: Sequence[float], temperature: float = TEMPERATURE) -> np.ndarray:
    s = np.asarray(scores, dtype=np.float64)
    if s.size == 0:
        return s
    return np.exp((s - s.max()) / temperature)


def vote(labels: Sequence[str | None], scores: Sequence[float], temperature: float = TEMPERATURE) -> Vote:
    """Similarity-weighted vote over the neighbours' labels for one attribute."""
    weights = neighbour_weights(scores, temperature)
    total = float(weights.sum())
    if total <= 0:
        return Vote()
    distribution: dict[str, float] = {}
    for label, weight in zip(labels, weights, strict=True):
        if label is not None:
            distribution[label] = distribution.get(label, 0.0) + float(weight) / total
    return Vote(distribution)


def combine(votes: Sequence[Vote], weights: Sequence[float]) -> Vote:
    """Weighted mixture of several garments' votes (weights: detection score x box area)."""
    total = float(sum(weights))
    if not votes or total <= 0:
        return Vote()
    mixed: dict[str, float] = {}
    for one, weight in zip(votes, weights, strict=True):
        for value, share in one.distribution.items():
            mixed[value] = mixed.get(value, 0.0) + share * weight / total
    return Vote(mixed)


class Calibrator:
    """Raw winning share -> calibrated confidence, per attribute (identity when the index has no calibration)."""

    def __init__(self, table: Mapping[str, Any] | None = None) -> None:
        self._table = dict(table or {})

    def __call__(self, attribute: str, share: float) -> float:
        knots = self._table.get(attribute)
        if not knots:
            return float(share)
        return float(np.clip(np.interp(share, knots["x"], knots["y"]), 0.0, 1.0))

    def attribute(self, name: str, one: Vote, threshold: float) -> Attribute:
        """The schema Attribute: value None (unknown) when the calibrated confidence is below `threshold`."""
        confidence = round(self(name, one.share), 4) if one.value is not None else 0.0
        return Attribute(value=one.value if confidence >= threshold else None, confidence=confidence)


def held_out_neighbours(labels: Sequence[Mapping[str, Any]], rows: Iterable[int], scores: np.ndarray,
                        found: np.ndarray, k: int) -> Iterator[tuple[int, list[tuple[float, int]]]]:
    """Leave-product-out: each query row with its k best (score, row) neighbours of other products (group)."""
    for query, row_scores, row_found in zip(rows, scores, found, strict=True):
        yield int(query), [(float(s), int(r)) for s, r in zip(row_scores, row_found, strict=True)
                           if r >= 0 and labels[r]["group"] != labels[query]["group"]][:k]


def fit_calibration(labels: Sequence[Mapping[str, Any]], vectors: np.ndarray, search: Any, k: int,
                    sample: int = 2000, seed: int = 0) -> dict[str, Any]:
    """Isotonic share->accuracy maps from leave-product-out queries (neighbours of the same group are dropped).

    `labels[i]` is row i's label dict (with 'group'); `search(vectors, k)` returns (scores, rows)."""
    from sklearn.isotonic import IsotonicRegression

    rng = np.random.default_rng(seed)
    rows = rng.choice(len(labels), min(sample, len(labels)), replace=False)
    scores, found = search(vectors[rows], k + 20)
    table: dict[str, Any] = {}
    for name in VOTED_ATTRIBUTES:
        shares, correct = [], []
        for query, kept in held_out_neighbours(labels, rows, scores, found, k):
            truth = labels[query].get(name)
            if truth is None:
                continue
            one = vote([labels[r].get(name) for _, r in kept], [s for s, _ in kept])
            if one.value is not None:
                shares.append(one.share)
                correct.append(float(one.value == truth))
        if len(shares) >= 20:
            fit = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(shares, correct)
            table[name] = {"x": [round(float(v), 4) for v in fit.X_thresholds_],
                           "y": [round(float(v), 4) for v in fit.y_thresholds_], "n": len(shares)}
    return table


# ---- style examples: our own templates over normalised labels (never catalogue text) ----
_PATTERN_WORDS = {"stripe": "striped", "check": "checked", "dot": "polka-dot", "all over pattern": "all-over print",
                  "melange": "melange", "lace": "lace", "embroidery": "embroidered", "jacquard": "jacquard",
                  "colour blocking": "colour-block", "glittering/metallic": "glittery", "sequin": "sequinned",
                  "placement print": "printed", "front print": "graphic-print"}
_COLOUR_WORDS = {"mole": "taupe", "lilac purple": "lilac", "khaki green": "khaki", "metal": "metallic",
                 "yellowish green": "lime"}
_GENDER_WORDS = {"women": "women's", "men": "men's", "kids": "kids'"}


def _phrase(labels: Mapping[str, Any], template: int) -> str | None:
    category = labels.get("category")
    if not category:
        return None
    colour = _COLOUR_WORDS.get(labels.get("colour") or "", labels.get("colour") or "")
    fabric, pattern = labels.get("fabric") or "", _PATTERN_WORDS.get(labels.get("pattern") or "", "")
    gender = _GENDER_WORDS.get(labels.get("gender") or "", "")
    options = [
        " ".join(p for p in (colour, fabric, category) if p),
        " ".join(p for p in (pattern or colour, category) if p) + (f" in {fabric}" if fabric else ""),
        " ".join(p for p in (gender, pattern, category) if p),
    ]
    return options[template % len(options)]


def style_examples(neighbour_labels: Sequence[Mapping[str, Any]], limit: int = 3) -> list[str]:
    """Up to `limit` distinct short phrases from the best neighbours' labels."""
    phrases: list[str] = []
    for rank, labels in enumerate(neighbour_labels):
        phrase = _phrase(labels, rank)
        if phrase and phrase not in phrases:
            phrases.append(phrase)
        if len(phrases) == limit:
            break
    return phrases
