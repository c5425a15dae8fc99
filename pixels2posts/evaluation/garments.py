"""What the evidence pack names against the catalogue's garment type, for a catalogue-schema CSV.

Per item whose category maps onto a detector class (`truth.CATEGORY_TO_GARMENT`), two readings of the pack:
    stated = `pack.garments`, what a caption may state (after the statement gates);
    found  = the stated garments, else `pack.withheld` (what the models saw but the gates kept back).
For each: no garment (the reading is empty), top type right (its top garment, by type-head probability then
detector score, is the catalogue's class) and, for stated, top type wrong (a garment is stated and it is not).
Every rate is a mean over items with a bootstrap 95% CI (`stats.mean_ci`); `majority` is the baseline of always
naming the most common class (its share of the items).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pixels2posts.evaluation.dataset import EvalItem, read_dataset
from pixels2posts.evaluation.stats import mean_ci
from shared.schemas import EvidencePack, Garment

READINGS = ("stated", "found")


def top_label(garments: Sequence[Garment]) -> str | None:
    """The garment the pack is most sure of: type-head probability first, then the detector's score."""
    if not garments:
        return None
    return max(garments, key=lambda g: (g.type_confidence or 0.0, g.score)).label


def readings(pack: EvidencePack) -> dict[str, list[Garment]]:
    return {"stated": list(pack.garments), "found": list(pack.garments or pack.withheld)}


def item_scores(pack: EvidencePack, truth: str) -> dict[str, float]:
    """0/1 per measure for one item whose catalogue class is `truth`."""
    scores: dict[str, float] = {}
    for name, garments in readings(pack).items():
        top = top_label(garments)
        scores[f"{name}_none"] = float(top is None)
        scores[f"{name}_right"] = float(top == truth)
    scores["stated_wrong"] = float(scores["stated_none"] == 0.0 and scores["stated_right"] == 0.0)
    return scores


def summarise(per_item: Sequence[dict[str, float]], truths: Sequence[str]) -> dict[str, Any]:
    keys = [f"{name}_{measure}" for name in READINGS for measure in ("none", "right")] + ["stated_wrong"]
    label, count = Counter(truths).most_common(1)[0] if truths else (None, 0)
    return {"items": len(per_item), "majority": {"label": label, "share": count / max(len(truths), 1)},
            **{key: mean_ci([s[key] for s in per_item]).as_dict() for key in keys}}


def scorable(items: Sequence[EvalItem]) -> list[tuple[EvalItem, str]]:
    """Items whose catalogue category names one detector class."""
    return [(item, next(iter(item.truth.values["garment"]))) for item in items if item.truth.values.get("garment")]


def evaluate_garments(dataset: Path, limit: int | None = None, batch: int = 8) -> dict[str, Any]:
    """Run the vision stage (the settings' models, index and gates) over the dataset's scorable items."""
    from shared.images import load_image
    from workers.vision.pipeline import VisionPipeline

    items = scorable(read_dataset(dataset))[:limit]
    pipeline = VisionPipeline()
    per_item: list[dict[str, float]] = []
    for start in range(0, len(items), batch):
        chunk = items[start:start + batch]
        packs = pipeline.evidence_batch([load_image(item.image, min_side=pipeline.min_side) for item, _ in chunk])
        per_item += [item_scores(pack, truth) for pack, (_, truth) in zip(packs, chunk, strict=True)]
    return {"dataset": str(dataset), **summarise(per_item, [truth for _, truth in items])}
