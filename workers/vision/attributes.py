"""Answer-or-abstain for gender and fabric: heads, neighbour votes and an out-of-domain signal must agree.

A wrong "for women" on a men's shirt costs more than an omitted gender, so an attribute is answered only when
  - the heads' probability (garment crops combined, weighted like the vote) clears the tower's threshold (picked on
    calibration products), or the index's calibrated vote clears the settings threshold;
  - the index's neighbour vote, when it has an opinion, names the same value;
  - the whole image and its garment crops name the same value (when there are crops);
  - the query looks like the index's own products: its best neighbour similarity (over its garment crops and the
    whole image) is not below the index's own low percentile (`manifest["similarity"]`, measured at build time by
    leave-product-out queries of whole catalogue photos).
Mirrors `training/tower/decide.py`, where the thresholds were chosen and the rule was measured.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from shared.schemas import Attribute
from workers.vision.retrieval import Calibrator, Vote

SOURCE = "image"


def mix(probs: Sequence[np.ndarray], weights: Sequence[float]) -> np.ndarray | None:
    """Weighted mean of probability vectors (None when there are none)."""
    total = float(sum(weights))
    if not probs or total <= 0:
        return None
    return np.sum([p * w for p, w in zip(probs, weights, strict=True)], axis=0) / total


def in_domain(best_similarity: float, manifest: Mapping[str, object]) -> bool:
    """False when the best neighbour is less similar than the index's own products usually are to each other."""
    stats = manifest.get("similarity")
    if not isinstance(stats, Mapping) or "p05" not in stats:
        return True  # an index built before the statistic existed: no signal
    return best_similarity >= float(stats["p05"])


def decide(name: str, vocabulary: Sequence[str], crops: np.ndarray | None, whole: np.ndarray | None,
           vote: Vote, calibrator: Calibrator, head_threshold: float | None, vote_threshold: float,
           domain_ok: bool) -> Attribute:
    """The reported attribute: a value only when every signal that has an opinion agrees."""
    heads = crops if crops is not None else whole
    head_value = vocabulary[int(heads.argmax())] if heads is not None else None
    head_conf = float(heads.max()) if heads is not None else 0.0
    vote_conf = calibrator(name, vote.share) if vote.value is not None else 0.0
    value = head_value or vote.value
    confidence = head_conf if head_value is not None else vote_conf
    if value is None:
        return Attribute(value=None, confidence=0.0, source=SOURCE)
    agree = vote.value is None or vote.value == value
    if crops is not None and whole is not None and vocabulary[int(whole.argmax())] != head_value:
        agree = False
    confident = (head_threshold is not None and head_conf >= head_threshold) or vote_conf >= vote_threshold
    answered = agree and confident and domain_ok
    return Attribute(value=value if answered else None, confidence=round(min(max(confidence, 0.0), 1.0), 4),
                     source=SOURCE)
