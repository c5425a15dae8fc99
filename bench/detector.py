"""Detector throughput by batch size: ONNX Runtime alone vs our full path (decode + letterbox + ORT + NMS).

    python bench/detector.py [--images DIR] [--count 32] [--batches 1,4,8,16] [--repeats 3] [--model PATH]

Prints one markdown table; all rows come from the same run, so the ratios between them are what to read.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from shared.images import decode_image
from shared.settings import REPO_ROOT, get_settings
from workers.vision.detector import GarmentDetector

DEFAULT_IMAGES = REPO_ROOT.parent / "shared" / "data" / "colorful-fashion" / "test" / "images"


def timed(work: Callable[[], object]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def bench(model: Path | None, blobs: list[bytes], batches: list[int], repeats: int) -> list[tuple[int, float, float]]:
    """(batch, seconds for all images with ORT alone, seconds for the full path) per batch size.

    Rounds interleave the batch sizes, so load from other processes on a shared CPU hits them alike; each cell is
    the fastest of `repeats` rounds, after one warm-up round.
    """
    cases: dict[int, tuple[Callable[[], object], Callable[[], object]]] = {}
    for batch in batches:
        detector = GarmentDetector(model, get_settings().model_copy(update={"detector_batch_size": batch}))
        images = [decode_image(b, min_side=detector.input_size) for b in blobs]
        tensors = [detector.prepare(images[i : i + batch]).tensor for i in range(0, len(images), batch)]

        def ort_alone(tensors: list[np.ndarray] = tensors, detector: GarmentDetector = detector) -> None:
            for tensor in tensors:
                detector.infer(tensor)

        def full_path(detector: GarmentDetector = detector) -> None:
            detector.detect_batch([decode_image(b, min_side=detector.input_size) for b in blobs])

        cases[batch] = (ort_alone, full_path)
    best = {batch: [float("inf"), float("inf")] for batch in batches}
    for round_index in range(repeats + 1):
        for batch, works in cases.items():
            for slot, work in enumerate(works):
                seconds = timed(work)
                if round_index:  # round 0 warms up sessions and caches
                    best[batch][slot] = min(best[batch][slot], seconds)
    return [(batch, best[batch][0], best[batch][1]) for batch in batches]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=Path, default=DEFAULT_IMAGES)
    parser.add_argument("--count", type=int, default=32)
    parser.add_argument("--batches", default="1,4,8,16")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--model", type=Path, default=None)
    args = parser.parse_args(argv)
    paths = sorted(p for p in args.images.iterdir() if p.suffix.lower() in {".jpg", ".jpeg", ".png", ".webp"})
    blobs = [p.read_bytes() for p in paths[: args.count]]
    batches = [int(b) for b in args.batches.split(",")]
    detector = GarmentDetector(args.model)
    print(f"model {detector.version}, providers {detector.providers}, {len(blobs)} images from {args.images}")
    rows = bench(args.model, blobs, batches, args.repeats)
    base_ort, base_full = rows[0][1], rows[0][2]
    print("| batch | ORT img/s | ORT ms/img | ORT speed-up | full img/s | full ms/img | full speed-up |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    n = len(blobs)
    for batch, ort_s, full_s in rows:
        print(
            f"| {batch} | {n / ort_s:.1f} | {1000 * ort_s / n:.1f} | {base_ort / ort_s:.2f}x "
            f"| {n / full_s:.1f} | {1000 * full_s / n:.1f} | {base_full / full_s:.2f}x |"
        )
    print("speed-ups are per image, against batch 1 of the same column; full = decode + letterbox + ORT + NMS")


if __name__ == "__main__":
    main()
