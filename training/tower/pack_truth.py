"""The evidence pack's garment and colour claims against catalogue truth, as the caption evaluation scores them.

    python -m training.tower.pack_truth RUN_DIR --split test [--limit 300] [--previous-colours]

H&M products of a split (training/tower/data.py: the runtime's product test split, or the calibration fold carved
out of train), one article per product, product types the truth metric scores. Each pack goes through the real
`VisionPipeline`; a claim is right when it meets the truth the way `pixels2posts.evaluation.truth` counts it:
garment = some pack garment's label is the product's class (CATEGORY_TO_GARMENT); colour = some stated garment
colour shares a lexicon family with `colour_group_name`. Stated = the pack names at least one. `--previous-colours`
names colours as before this change (every k-means colour, no confidence), for the baseline row.
Writes RUN_DIR/packs-SPLIT[-previous].jsonl (one pack + truth per line) and prints the summary.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path
from typing import Any

import numpy as np

from pixels2posts.evaluation.truth import CATEGORY_TO_GARMENT, colour_families
from shared.images import load_image
from shared.settings import REPO_ROOT
from training.tower.data import hm_rows
from workers.vision.pipeline import VisionPipeline

CATALOG = REPO_ROOT.parent / "shared" / "data" / "hm-catalog"


def products(catalog: Path, split: str, limit: int) -> list[dict[str, Any]]:
    """One article per product of the split, in a fixed pseudo-random order, with its truth."""
    groups = {r["article_id"].zfill(10): r["colour_group_name"]
              for r in csv.DictReader((catalog / "articles.csv").open(newline="", encoding="utf-8"))}
    seen: set[str] = set()
    picked = []
    for row in hm_rows(catalog):
        garment = CATEGORY_TO_GARMENT.get(row.raw_label.lower())
        if row.split != split or garment is None or row.group in seen:
            continue
        seen.add(row.group)
        picked.append({"key": row.key, "path": row.path, "garment": garment,
                       "colours": sorted(colour_families(groups[row.key]))})
    rng = np.random.default_rng(0)
    return [picked[i] for i in sorted(rng.choice(len(picked), min(limit, len(picked)), replace=False))]


def score(record: dict[str, Any]) -> dict[str, bool | None]:
    garments = record["pack"]["garments"]
    labels = {g["label"] for g in garments}
    named = [c["name"] for g in garments for c in g["colours"]]
    truth = set(record["colours"])
    return {"garment_stated": bool(labels), "garment_right": record["garment"] in labels,
            "colour_stated": bool(named) if truth else None,
            "colour_right": any(colour_families(n) & truth for n in named) if truth else None}


def summary(records: list[dict[str, Any]]) -> dict[str, float]:
    scores = [score(r) for r in records]
    coloured = [s for s in scores if s["colour_stated"] is not None]
    stated = [s for s in coloured if s["colour_stated"]]
    said = [s for s in scores if s["garment_stated"]]
    return {"n": len(records),
            "garment_stated": len(said) / len(scores),
            "garment_contradicted": float(np.mean([not s["garment_right"] for s in said])) if said else 0.0,
            "colour_n": len(coloured), "colour_stated": len(stated) / max(len(coloured), 1),
            "colour_contradicted": float(np.mean([not s["colour_right"] for s in stated])) if stated else 0.0}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path)
    parser.add_argument("--split", default="test", choices=["calib", "test"])
    parser.add_argument("--limit", type=int, default=300)
    parser.add_argument("--catalog", type=Path, default=CATALOG)
    parser.add_argument("--previous-colours", action="store_true")
    args = parser.parse_args(argv)
    pipeline = VisionPipeline()
    if args.previous_colours:
        pipeline._colour_model_loaded = True  # no learned namer: every k-means colour, as before
    rows = products(args.catalog, args.split, args.limit)
    records = []
    for start in range(0, len(rows), 8):
        batch = rows[start:start + 8]
        packs = pipeline.evidence_batch([load_image(Path(r["path"]), min_side=pipeline.min_side) for r in batch])
        records += [{**r, "pack": json.loads(p.model_dump_json())} for r, p in zip(batch, packs, strict=True)]
    suffix = "-previous" if args.previous_colours else ""
    out = args.run / f"packs-{args.split}{suffix}.jsonl"
    out.write_text("".join(json.dumps(r) + "\n" for r in records))
    print(json.dumps(summary(records), indent=1))


if __name__ == "__main__":
    main()
