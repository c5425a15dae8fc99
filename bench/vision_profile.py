"""The vision stage at the speed of its models: ONNX Runtime alone vs the in-process pipeline, per thread layout,
and where one batch's time goes.

    python bench/vision_profile.py [--images DIR] [--count 48] [--batch 8] [--layouts 1x2,2x1] [--repeats 3]

A layout RxT runs R batches at once (P2P_VISION_BATCH_WORKERS) with T ONNX Runtime intra-op threads per session
(P2P_ORT_INTRA_THREADS). Per layout, on the same images and batch size:
  ORT alone  the detector and CLIP session calls of every batch on tensors prepared beforehand (the crops are the
             ones the pipeline itself sends to CLIP), R batches at once;
  pipeline   decode + `VisionPipeline.evidence_batch` through the worker's MicroBatcher (R runners).
Rounds interleave the layouts and the two paths, so load from other processes hits them alike; each cell is the
best of `repeats` rounds after a warm-up round; the last column is the median, over those rounds, of each round's
pipeline / ORT ratio (the two measured back to back: steadier than the ratio of two bests on a shared machine).
Then a per-stage profile of the batches of the first layout.
"""

from __future__ import annotations

import argparse
import os
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from shared.images import DecodedImage, decode_image
from shared.schemas import EvidencePack
from shared.settings import REPO_ROOT, get_settings
from workers.batching import MicroBatcher
from workers.vision.pipeline import VisionPipeline
from workers.vision.resize import Resizable

DEFAULT_IMAGES = REPO_ROOT.parent / "shared" / "data" / "colorful-fashion" / "test" / "images"


class StageClock:
    """Wraps named callables so each call adds its wall time to the stage's total (the pipeline is unchanged)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)

    def wrap(self, name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.seconds[name] += time.perf_counter() - started

        return timed


def instrument(pipeline: VisionPipeline, clock: StageClock) -> None:
    detector, embedder, index = pipeline.detector, pipeline.embedder, pipeline.index
    detector.prepare = clock.wrap("detector: letterbox + tensor", detector.prepare)
    detector.infer = clock.wrap("detector: ONNX Runtime", detector.infer)
    detector.postprocess = clock.wrap("detector: NMS + boxes", detector.postprocess)
    embedder.prepare = clock.wrap("CLIP: resize + normalise", embedder.prepare)  # type: ignore[method-assign]
    embedder.image_model.run = clock.wrap("CLIP: ONNX Runtime", embedder.image_model.run)  # type: ignore[method-assign]
    index.search = clock.wrap("FAISS search", index.search)  # type: ignore[method-assign]
    # both colour paths (the learned namer's readings, and plain k-means names without it) go through this method
    pipeline.colour_readings = clock.wrap(  # type: ignore[method-assign]
        "colours (all crops at once, clustering + namer)", pipeline.colour_readings)


class Layout:
    """One pipeline (own sessions) with R runners and T intra-op threads, and its prepared model inputs."""

    def __init__(self, runners: int, threads: int, batch: int, blobs: Sequence[bytes]) -> None:
        self.runners, self.threads, self.batch = runners, threads, batch
        settings = get_settings().model_copy(update={
            "ort_intra_threads": threads, "ort_inter_threads": 1, "batch_size": batch,
            "detector_batch_size": batch, "vision_batch_workers": runners})
        self.pipeline = VisionPipeline(settings)
        self.blobs = blobs
        self.min_side = self.pipeline.min_side
        self.inputs = self._model_inputs()

    @property
    def name(self) -> str:
        return f"{self.runners}x{self.threads}"

    def decode(self, blob: bytes) -> DecodedImage:
        return decode_image(blob, min_side=self.min_side)

    def _model_inputs(self) -> list[tuple[np.ndarray, list[np.ndarray]]]:
        """Per batch: the detector tensor and the CLIP tensors of the crops the pipeline embeds."""
        embedder = self.pipeline.embedder
        captured: list[list[np.ndarray]] = []
        original = embedder.analyse_images

        def capture(crops: Sequence[Resizable], batch_size: int = 64) -> Any:
            captured.append([embedder.prepare(crops[i:i + batch_size]) for i in range(0, len(crops), batch_size)])
            return original(crops, batch_size)

        embedder.analyse_images = capture  # type: ignore[method-assign]
        inputs = []
        for start in range(0, len(self.blobs), self.batch):
            images = [self.decode(b) for b in self.blobs[start:start + self.batch]]
            self.pipeline.evidence_batch(images)
            inputs.append((self.pipeline.detector.prepare(images).tensor, captured[-1]))
        embedder.analyse_images = original  # type: ignore[method-assign]
        return inputs

    def ort_alone(self) -> None:
        detector, embedder = self.pipeline.detector, self.pipeline.embedder
        outputs = ["embedding", *embedder.head_vocabularies]  # what the pipeline asks the CLIP tower for

        def one_batch(item: tuple[np.ndarray, list[np.ndarray]]) -> None:
            detector.infer(item[0])
            for clip_batch in item[1]:
                embedder.image_model.run({"image": clip_batch}, outputs)

        with ThreadPoolExecutor(self.runners) as pool:
            list(pool.map(one_batch, self.inputs))

    def in_process(self) -> list[EvidencePack]:
        batcher: MicroBatcher[DecodedImage, EvidencePack] = MicroBatcher(
            self.pipeline.evidence_batch, max_size=self.batch, max_wait_s=0.02, runners=self.runners)
        try:
            futures = [batcher.submit(self.decode(blob)) for blob in self.blobs]
            return [future.result(timeout=600) for future in futures]
        finally:
            batcher.close()


def timed(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def compare(layouts: Sequence[Layout], repeats: int) -> dict[str, tuple[float, float, float]]:
    """Per layout: best ORT-alone seconds, best pipeline seconds, and the median over rounds of the pipeline's time
    over the ORT time of the same round (measured back to back, so a load change between rounds cancels out)."""
    best = {layout.name: [float("inf"), float("inf")] for layout in layouts}
    ratios: dict[str, list[float]] = {layout.name: [] for layout in layouts}
    for round_index in range(repeats + 1):
        for layout in layouts:
            seconds = [timed(work) for work in (layout.ort_alone, layout.in_process)]
            if round_index:  # round 0 warms sessions, caches and thread pools
                best[layout.name] = [min(b, s) for b, s in zip(best[layout.name], seconds, strict=True)]
                ratios[layout.name].append(seconds[0] / seconds[1])
    return {name: (ort, full, float(np.median(ratios[name]))) for name, (ort, full) in best.items()}


def profile(layout: Layout) -> tuple[dict[str, float], float, int]:
    """Stage seconds over all batches of `layout` run one after another, total seconds, crops embedded."""
    clock = StageClock()
    pipeline = layout.pipeline
    instrument(pipeline, clock)
    crops = 0
    total = 0.0
    for start in range(0, len(layout.blobs), layout.batch):
        chunk = layout.blobs[start:start + layout.batch]
        started = time.perf_counter()
        images = [clock.wrap("decode", layout.decode)(b) for b in chunk]
        packs = pipeline.evidence_batch(images)
        total += time.perf_counter() - started
        crops += sum(max(1, len(p.garments)) for p in packs)
    return dict(clock.seconds), total, crops


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=Path, default=DEFAULT_IMAGES)
    parser.add_argument("--count", type=int, default=48)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--layouts", default="1x2,2x1", help="RxT: batches at once x ORT intra-op threads")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    paths = sorted(p for p in args.images.iterdir() if p.suffix.lower() in {".jpg", ".jpeg", ".png", ".webp"})
    blobs = [p.read_bytes() for p in paths[: args.count]]
    layouts = [Layout(int(r), int(t), args.batch, blobs)
               for r, t in (spec.split("x") for spec in args.layouts.split(","))]
    first = layouts[0].pipeline
    print(f"# {len(blobs)} images from {args.images}, batch {args.batch}; detector {first.detector.version}, "
          f"CLIP {first.embedder.version}, providers {first.detector.providers}; "
          f"{os.cpu_count()} CPUs, load average {' '.join(f'{v:.1f}' for v in os.getloadavg())}\n")
    results = compare(layouts, args.repeats)
    best_ort = min(ort for ort, _, _ in results.values())
    n = len(blobs)
    print("| layout (batches at once x ORT threads) | ORT alone img/s | pipeline img/s | pipeline / same-layout ORT "
          "| pipeline / best ORT | same-layout ratio, median of rounds |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, (ort, full, median) in results.items():
        print(f"| {name} | {n / ort:.1f} | {n / full:.1f} | {ort / full:.2f} | {best_ort / full:.2f} | {median:.2f} |")
    stages, total, crops = profile(layouts[0])
    model = sum(s for name, s in stages.items() if "ONNX Runtime" in name)
    print(f"\n# per-stage profile, layout {layouts[0].name}, batches run one after another: {n} images, "
          f"{crops} crops, {1000 * total / n:.1f} ms/image\n")
    print("| stage | ms / batch | ms / image | share of model time |")
    print("|---|---:|---:|---:|")
    batches = -(-n // args.batch)
    rest = total - sum(stages.values())
    for name, seconds in [*stages.items(), ("selection, crops, votes, assembly (the rest)", rest)]:
        print(f"| {name} | {1000 * seconds / batches:.1f} | {1000 * seconds / n:.2f} | {seconds / model:.3f} |")
    print(f"| **all but the models** | {1000 * (total - model) / batches:.1f} | {1000 * (total - model) / n:.2f} "
          f"| {(total - model) / model:.3f} |")


if __name__ == "__main__":
    main()
