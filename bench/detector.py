"""Detector throughput by batch size: ONNX Runtime alone vs our full path (decode + letterbox + ORT + NMS).

    python bench/detector.py [--images DIR] [--count 32] [--batches 1,4,8,16] [--repeats 3] [--model PATH]

Prints one markdown table; all rows come from the same run, so the ratios between them are what to read.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from shared.images import decode_image
from shared.settings import REPO_ROOT, get_settings
from workers.vision.detector import GarmentDetector

DEFAULT_IMAGES = REPO_ROOT.parent / "shared" / "data" / "colorful-fashion" / "test" / "images"


def best_seconds(work: Callable[[], object], repeats: int) -> float:
    """Median wall time of `repeats` runs after one warm-up."""
    work()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench(model: Path | None, blobs: list[bytes], batches: list[int], repeats: int) -> list[tuple[int, float, float]]:
    """(batch, seconds for all images with ORT alone, seconds for the full path) per batch size."""
    rows = []
    for batch in batches:
        detector = GarmentDetector(model, get_settings().model_copy(update={"batch_size": batch}))
        images = [decode_image(b, min_side=detector.input_size) for b in blobs]
        chunks = [images[i : i + batch] for i in range(0, len(images), batch)]
        tensors = [detector.prepare(chunk).tensor for chunk in chunks]

        def ort_alone(tensors: list = tensors, detector: GarmentDetector = detector) -> None:
            for tensor in tensors:
                detector.infer(tensor)

        def full_path(detector: GarmentDetector = detector) -> None:
            detector.detect_batch([decode_image(b, min_side=detector.input_size) for b in blobs])

        rows.append((batch, best_seconds(ort_alone, repeats), best_seconds(full_path, repeats)))
    return rows


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
    print("| batch | ORT img/s | ORT ms/img | full img/s | full ms/img | full speed-up vs batch 1 |")
    print("|---:|---:|---:|---:|---:|---:|")
    n = len(blobs)
    for batch, ort_s, full_s in rows:
        print(
            f"| {batch} | {n / ort_s:.1f} | {1000 * ort_s / n:.1f} | {n / full_s:.1f} | {1000 * full_s / n:.1f} "
            f"| {base_full / full_s:.2f}x |"
        )
    print(f"(ORT alone at batch 1: {1000 * base_ort / n:.1f} ms/img)")


if __name__ == "__main__":
    main()
