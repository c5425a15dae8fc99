"""Batched vs one-by-one CLIP image embedding (ONNX Runtime), on real H&M product shots.

    python bench/embedder.py [--images 128] [--batch-sizes 1,8,32,64]

Prints one table; ratios are against one-by-one in the same run.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pixels2posts.catalog.reader import read_hm_articles  # noqa: E402
from shared.images import load_image  # noqa: E402
from workers.vision.embedder import ClipEmbedder  # noqa: E402


def _time(embedder: ClipEmbedder, crops: list[np.ndarray], batch_size: int, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        if batch_size == 1:
            for crop in crops:
                embedder.embed_images([crop])
        else:
            embedder.embed_images(crops, batch_size=batch_size)
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--catalog", type=Path, default=REPO.parent / "shared/data/hm-catalog")
    parser.add_argument("--images", type=int, default=128)
    parser.add_argument("--batch-sizes", default="1,8,32,64")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    crops = [load_image(item.image).rgb for item in read_hm_articles(args.catalog)[: args.images]]
    embedder = ClipEmbedder()
    embedder.embed_images(crops[:8])  # load the session, warm up
    sizes = [int(s) for s in args.batch_sizes.split(",")]
    seconds = {size: _time(embedder, crops, size, args.repeats) for size in sizes}
    base = seconds[1] if 1 in seconds else seconds[sizes[0]]
    print(f"CLIP image tower {embedder.version} ({embedder.image_size}px), {len(crops)} crops, "
          f"providers {embedder.image_model.providers}")
    print(f"{'batch':>6} {'seconds':>8} {'crops/s':>8} {'ms/crop':>8} {'speed-up':>9}")
    for size in sizes:
        s = seconds[size]
        print(f"{size:>6} {s:>8.3f} {len(crops) / s:>8.1f} {1000 * s / len(crops):>8.2f} {base / s:>8.2f}x")


if __name__ == "__main__":
    main()
