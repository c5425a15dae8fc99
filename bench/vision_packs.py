"""Evidence packs of a fixed set of photos as JSON, to prove a speed change changed no output.

    python bench/vision_packs.py --out before.json [--images DIR] [--count 48] [--batch 8]
    python bench/vision_packs.py --compare before.json      # exit 1, and the first differences, if any pack differs
    python bench/vision_packs.py --compare before.json --summary   # what a change of the inputs changed, in sum

The photos go through `VisionPipeline.evidence_batch` in batches of `--batch` (in file-name order), each pack
dumped with pydantic's `model_dump(mode="json")`, so a float that moved in its last rounded digit counts as a change.
`--summary` is for a change that moves the models' inputs slightly (a resize within a grey level): it counts what a
caption would read differently (garment labels and categories, stated colour names, attribute values) and how far
the numbers moved (boxes, scores, the neighbour lists).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

from shared.images import decode_image
from shared.settings import REPO_ROOT, get_settings
from workers.vision.pipeline import VisionPipeline

DEFAULT_IMAGES = REPO_ROOT.parent / "shared" / "data" / "colorful-fashion" / "test" / "images"


def packs(images: Path, count: int, batch: int) -> dict[str, Any]:
    pipeline = VisionPipeline(get_settings())
    paths = sorted(p for p in images.iterdir() if p.suffix.lower() in {".jpg", ".jpeg", ".png", ".webp"})[:count]
    out: dict[str, Any] = {}
    for start in range(0, len(paths), batch):
        chunk = paths[start:start + batch]
        decoded = [decode_image(p.read_bytes(), min_side=pipeline.min_side) for p in chunk]
        for path, pack in zip(chunk, pipeline.evidence_batch(decoded), strict=True):
            out[path.name] = pack.model_dump(mode="json")
    return out


def differences(before: Any, after: Any, where: str = "") -> list[str]:
    if isinstance(before, dict) and isinstance(after, dict):
        found = [f"{where}/{k}: only in one" for k in sorted(set(before) ^ set(after))]
        for key in sorted(set(before) & set(after)):
            found += differences(before[key], after[key], f"{where}/{key}")
        return found
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        pairs = enumerate(zip(before, after, strict=True))
        return [d for i, (b, a) in pairs for d in differences(b, a, f"{where}[{i}]")]
    return [] if before == after else [f"{where}: {before!r} -> {after!r}"]


def _stated(pack: dict[str, Any]) -> dict[str, Any]:
    """What a caption reads from a pack: garments (label, category, colour names) and attribute values."""
    return {
        "garment labels": [g["label"] for g in pack["garments"]],
        "garment categories": [g["category"] for g in pack["garments"]],
        "stated colours": [[c["name"] for c in g["colours"]] for g in pack["garments"]],
        "attribute values": {k: v and v["value"] for k, v in pack["attributes"].items()},
    }


def summary(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """Printable lines: packs whose stated content changed, per kind, and the largest numeric moves."""
    names = sorted(set(before) & set(after))
    lines = [f"{len(names)} packs in both"]
    for kind in _stated(before[names[0]]) if names else []:
        changed = [n for n in names if _stated(before[n])[kind] != _stated(after[n])[kind]]
        lines.append(f"{kind}: {len(changed)} packs differ" + (f" ({', '.join(changed[:5])})" if changed else ""))
    same_count = [n for n in names if len(before[n]["garments"]) == len(after[n]["garments"])]
    box_moves = [abs(a - b) for n in same_count for gb, ga in zip(before[n]["garments"], after[n]["garments"],
                                                                    strict=True)
                 for b, a in zip(gb["box"], ga["box"], strict=True)]
    score_moves = [abs(gb["score"] - ga["score"]) for n in same_count
                   for gb, ga in zip(before[n]["garments"], after[n]["garments"], strict=True)]
    def ids(pack: dict[str, Any]) -> set[str]:
        return {x["product_id"] for x in pack["neighbours"]}

    overlap = [len(ids(before[n]) & ids(after[n])) / max(1, len(before[n]["neighbours"])) for n in names]
    confidence_moves = [abs(b["confidence"] - a["confidence"])
                        for n in names for k, b in before[n]["attributes"].items()
                        if b and (a := after[n]["attributes"].get(k))]
    if box_moves:
        lines.append(f"box corners moved: median {statistics.median(box_moves):.2f} px, max {max(box_moves):.2f} px "
                     f"(packs with the same garment count: {len(same_count)})")
        lines.append(f"garment scores moved: median {statistics.median(score_moves):.4f}, max {max(score_moves):.4f}")
    if confidence_moves:
        lines.append(f"attribute confidences moved: median {statistics.median(confidence_moves):.4f}, "
                     f"max {max(confidence_moves):.4f}")
    if overlap:
        lines.append(f"neighbours shared (of the top {len(before[names[0]]['neighbours'])}): mean "
                     f"{statistics.fmean(overlap):.3f}, min {min(overlap):.2f}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=Path, default=DEFAULT_IMAGES)
    parser.add_argument("--count", type=int, default=48)
    parser.add_argument("--batch", type=int, default=8)
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--out", type=Path)
    group.add_argument("--compare", type=Path)
    parser.add_argument("--summary", action="store_true", help="with --compare: a summary, not the differences")
    args = parser.parse_args(argv)
    found = packs(args.images, args.count, args.batch)
    if args.out:
        args.out.write_text(json.dumps(found, indent=1, sort_keys=True))
        print(f"{len(found)} packs written to {args.out}")
        return 0
    before = json.loads(args.compare.read_text())
    diffs = differences(before, found)
    print(f"{len(found)} packs, {len(diffs)} differences from {args.compare}")
    if args.summary:
        print("\n".join(summary(before, found)))
        return 0
    for line in diffs[:30]:
        print(" ", line)
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
