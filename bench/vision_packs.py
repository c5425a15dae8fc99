"""Evidence packs of a fixed set of photos as JSON, to prove a speed change changed no output.

    python bench/vision_packs.py --out before.json [--images DIR] [--count 48] [--batch 8]
    python bench/vision_packs.py --compare before.json      # exit 1, and the first differences, if any pack differs

The photos go through `VisionPipeline.evidence_batch` in batches of `--batch` (in file-name order), each pack
dumped with pydantic's `model_dump(mode="json")`, so a float that moved in its last rounded digit counts as a change.
"""

from __future__ import annotations

import argparse
import json
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=Path, default=DEFAULT_IMAGES)
    parser.add_argument("--count", type=int, default=48)
    parser.add_argument("--batch", type=int, default=8)
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--out", type=Path)
    group.add_argument("--compare", type=Path)
    args = parser.parse_args(argv)
    found = packs(args.images, args.count, args.batch)
    if args.out:
        args.out.write_text(json.dumps(found, indent=1, sort_keys=True))
        print(f"{len(found)} packs written to {args.out}")
        return 0
    diffs = differences(json.loads(args.compare.read_text()), found)
    print(f"{len(found)} packs, {len(diffs)} differences from {args.compare}")
    for line in diffs[:30]:
        print(" ", line)
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
