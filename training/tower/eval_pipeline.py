"""The whole vision stage (ONNX detector + image tower + index) on held-out product photos, new vs old models.

    python -m training.tower.eval_pipeline RUN_DIR [--limit-hm N] [--limit-clothing N]
Uses the models under P2P_MODELS_DIR / P2P_INDEX_DIR (so the previous models can be measured the same way).
Reports, per data set: photos with no garment in the pack, garment type right (fine and detector-class level),
and for H&M the answered gender/fabric accuracy and answer rate; for clothing-photos the kids flag vs answered gender.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from shared.images import load_image
from shared.schemas import EvidencePack
from training.tower.labels import CLOTHING_PHOTOS_ACCEPT
from workers.vision.garment_types import COARSE
from workers.vision.pipeline import VisionPipeline


def _rows(run: Path, source: str, limit: int) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in (run / "rows.jsonl").read_text().splitlines()]
    picked = [r for r in rows if r["source"] == source and r["split"] == "test"]
    rng = np.random.default_rng(0)
    return [picked[i] for i in sorted(rng.choice(len(picked), min(limit, len(picked)), replace=False))]


def _packs(pipeline: VisionPipeline, rows: list[dict[str, Any]], batch: int = 8) -> list[EvidencePack]:
    packs: list[EvidencePack] = []
    for start in range(0, len(rows), batch):
        images = [load_image(Path(r["path"]), min_side=pipeline.min_side) for r in rows[start:start + batch]]
        packs += pipeline.evidence_batch(images)
    return packs


def _top(pack: EvidencePack) -> tuple[str | None, str | None]:
    """(detector-class label, finer type) of the pack's main garment (largest score x box area)."""
    if not pack.garments:
        return None, None
    main = max(pack.garments, key=lambda g: g.score * (g.box[2] - g.box[0]) * (g.box[3] - g.box[1]))
    return main.label, main.category


def _answered(truth: list[str | None], said: list[str | None]) -> dict[str, Any]:
    pairs = [(t, s) for t, s in zip(truth, said, strict=True) if t is not None]
    answered = [(t, s) for t, s in pairs if s is not None]
    return {"n": len(pairs), "answer_rate": len(answered) / max(len(pairs), 1),
            "answered_acc": float(np.mean([t == s for t, s in answered])) if answered else None}


def evaluate(run: Path, limit_hm: int, limit_clothing: int) -> dict[str, Any]:
    pipeline = VisionPipeline()
    report: dict[str, Any] = {"models": pipeline.versions}
    clothing = [r for r in _rows(run, "clothing", limit_clothing) if r["raw_label"] in CLOTHING_PHOTOS_ACCEPT]
    packs = _packs(pipeline, clothing)
    tops = [_top(p) for p in packs]
    report["clothing"] = {
        "n": len(clothing), "no_garment": float(np.mean([label is None for label, _ in tops])),
        "coarse_right": float(np.mean([label == COARSE[r["garment"]] for r, (label, _) in zip(clothing, tops,
                                                                                                strict=True)])),
        "type_right": float(np.mean([kind in CLOTHING_PHOTOS_ACCEPT[r["raw_label"]]
                                     for r, (_, kind) in zip(clothing, tops, strict=True)])),
    }
    kids = [r["kids"] for r in clothing]
    said = [p.attributes.gender.value for p in packs]
    answered = [(k, s) for k, s in zip(kids, said, strict=True) if s is not None]
    report["clothing"]["kids_flag"] = {
        "answer_rate": len(answered) / max(len(kids), 1),
        "answered_acc": float(np.mean([(s == "kids") == k for k, s in answered])) if answered else None}
    hm = _rows(run, "hm", limit_hm)
    packs = _packs(pipeline, hm)
    tops = [_top(p) for p in packs]
    typed = [(r, t) for r, t in zip(hm, tops, strict=True) if r["garment"]]
    report["hm"] = {
        "n": len(hm), "no_garment": float(np.mean([label is None for label, _ in tops])),
        "coarse_right": float(np.mean([label == COARSE[r["garment"]] for r, (label, _) in typed
                                       if COARSE[r["garment"]] is not None])),
        "type_right": float(np.mean([kind == r["garment"] for r, (_, kind) in typed])),
        "gender": _answered([r["gender"] for r in hm], [p.attributes.gender.value for p in packs]),
        "fabric": _answered([r["fabric"] for r in hm], [p.attributes.fabric.value for p in packs]),
    }
    return report


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("run", type=Path)
    parser.add_argument("--limit-hm", type=int, default=300)
    parser.add_argument("--limit-clothing", type=int, default=400)
    args = parser.parse_args()
    print(json.dumps(evaluate(args.run, args.limit_hm, args.limit_clothing), indent=1))
