"""A compact copy of the colorful-fashion TRAIN split for a remote GPU run: re-encoded images + a small val holdout.

The GPU machine takes at most 64 MiB of carried files, so images are re-encoded (WebP, same 400x600 size) and a
fixed, seeded holdout of the train split becomes the validation set used for best-checkpoint selection. The test
split is never copied: it is for reporting only. training.detector.train writes the data.yaml for the machine it
runs on.

    python -m training.detector.prepare_data --src ../shared/data/colorful-fashion --out .devdata/cf
"""

from __future__ import annotations

import argparse
import random
import shutil
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from PIL import Image


def _encode(job: tuple[Path, Path, str, int]) -> int:
    src, dst, fmt, quality = job
    with Image.open(src) as image:
        image.convert("RGB").save(dst, fmt, quality=quality)
    return dst.stat().st_size


def split_names(images: list[Path], val_count: int, seed: int) -> tuple[list[Path], list[Path]]:
    shuffled = sorted(images)
    random.Random(seed).shuffle(shuffled)
    return sorted(shuffled[val_count:]), sorted(shuffled[:val_count])


def prepare(
    src: Path, out: Path, *, val_count: int, seed: int, fmt: str, quality: int, workers: int, limit: int | None = None
) -> int:
    images = sorted((src / "train" / "images").glob("*.jpg"))[:limit]
    if not images:
        raise SystemExit(f"no train images under {src}/train/images")
    train, val = split_names(images, val_count, seed)
    suffix = ".webp" if fmt == "WEBP" else ".jpg"
    jobs = []
    for split, members in (("train", train), ("val", val)):
        (out / split / "images").mkdir(parents=True, exist_ok=True)
        (out / split / "labels").mkdir(parents=True, exist_ok=True)
        for image in members:
            label = src / "train" / "labels" / f"{image.stem}.txt"
            shutil.copyfile(label, out / split / "labels" / label.name)
            jobs.append((image, out / split / "images" / f"{image.stem}{suffix}", fmt, quality))
    with ProcessPoolExecutor(max_workers=workers) as pool:
        total = sum(pool.map(_encode, jobs, chunksize=32))
    return total


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--src", type=Path, required=True, help="e.g. ../shared/data/colorful-fashion")
    parser.add_argument("--out", type=Path, default=Path(".devdata/cf"))
    parser.add_argument("--val-count", type=int, default=150)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--format", choices=["WEBP", "JPEG"], default="WEBP")
    parser.add_argument("--quality", type=int, default=65)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--limit", type=int, default=None, help="only the first N train images (smoke runs)")
    args = parser.parse_args(argv)
    total = prepare(
        args.src,
        args.out,
        val_count=args.val_count,
        seed=args.seed,
        fmt=args.format,
        quality=args.quality,
        workers=args.workers,
        limit=args.limit,
    )
    print(f"wrote {args.out}: {total / 2**20:.1f} MiB of images")


if __name__ == "__main__":
    main()
