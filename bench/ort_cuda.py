"""The two vision models under ONNX Runtime's session options, on the exact tensors the pipeline sends them, and
where one pass's time goes per execution provider (ORT's own profiler).

    python bench/ort_cuda.py [--images DIR] [--count 256] [--batch 32] [--passes 2]

Rows, each a fresh pair of sessions, one warm-up pass then the best of --passes timed passes over all batches:
  ORT defaults      CUDA only: no provider options (cuDNN times every convolution algorithm: EXHAUSTIVE), ORT's
                    default thread pool
  as shipped        the worker's options (`shared.onnx_session.OrtModel`): `ort_threads_per_session` intra-op
                    threads, no spinning, and on CUDA `P2P_ORT_CUDA_CONV_ALGO_SEARCH` (HEURISTIC)
  NHWC convs        CUDA only: as shipped, plus ORT's channels-last layout for convolutions (`prefer_nhwc`)
  small conv workspace  CUDA only: as shipped, cuDNN workspace capped (`cudnn_conv_use_max_workspace=0`)
  CLIP batches padded to one shape  CUDA only: as shipped, every CLIP call at the largest crop batch
  all threads       as shipped with ORT's default thread pool (every core, spinning)
  inputs on device  CUDA only: as shipped, with each batch already in GPU memory and outputs left there (IO
                    binding): the models' own GPU time, no host copies
Then the profile of two passes as shipped: milliseconds per provider and the nodes that took longest in the second
(ORT's node times are host-side: on CUDA a node's time is its launch and set-up, plus any wait it makes).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from vision_profile import DEFAULT_IMAGES, Layout

from shared.onnx_session import check_cuda_active, with_provider_options
from shared.settings import get_settings

Batches = list[tuple[np.ndarray, list[np.ndarray]]]


@dataclass(frozen=True)
class Row:
    name: str
    providers: list[Any]
    threads: int | None = None  # None: the worker's own (`ort_threads_per_session`)
    spinning: bool = False
    bound: bool = False  # inputs already on the device, outputs left there
    pad: bool = False  # every CLIP call at the largest crop batch (zero crops added), so its shape never changes


def padded(batches: Batches) -> Batches:
    largest = max((c.shape[0] for _, crops in batches for c in crops), default=0)
    return [(t, [np.concatenate([c, np.zeros((largest - c.shape[0], *c.shape[1:]), c.dtype)]) for c in crops])
            for t, crops in batches]


def session(path: Path, providers: list[Any], threads: int, spinning: bool, profile: bool = False) -> Any:
    """A session as the row asks; one meant for CUDA that ORT put on the CPU is an error, not a slow row."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "1" if spinning else "0")
    if profile:
        options.enable_profiling = True
        options.profile_file_prefix = str(Path(tempfile.mkdtemp()) / "ort")
    created = ort.InferenceSession(str(path), sess_options=options, providers=providers)
    asked = [p if isinstance(p, str) else p[0] for p in providers]
    wanted = "cuda" if "CUDAExecutionProvider" in asked else "any"
    check_cuda_active(wanted, list(created.get_providers()), path.name)
    return created


def run_pass(detector: Any, clip: Any, batches: Batches, bound: bool) -> tuple[float, float]:
    """Seconds in the detector and in CLIP for one pass over every batch."""
    seconds = [0.0, 0.0]
    for tensor, crops in batches:
        for which, model, inputs in ((0, detector, [tensor]), (1, clip, crops)):
            for x in inputs:
                started = time.perf_counter()
                if bound:
                    binding = model.io_binding()
                    binding.bind_ortvalue_input(model.get_inputs()[0].name, x)
                    for output in model.get_outputs():
                        binding.bind_output(output.name, "cuda")
                    model.run_with_iobinding(binding)
                    binding.synchronize_outputs()
                else:
                    model.run(None, {model.get_inputs()[0].name: x})
                seconds[which] += time.perf_counter() - started
    return seconds[0], seconds[1]


def on_device(batches: Batches) -> Batches:
    import onnxruntime as ort

    return [(ort.OrtValue.ortvalue_from_numpy(t, "cuda", 0),
             [ort.OrtValue.ortvalue_from_numpy(c, "cuda", 0) for c in crops]) for t, crops in batches]


def best_of(passes: int, work: Callable[[], tuple[float, float]]) -> tuple[float, float]:
    work()
    timings = [work() for _ in range(passes)]
    return min(t[0] for t in timings), min(t[1] for t in timings)


def profile_summary(detector: Any, clip: Any, batches: Batches, top: int = 12) -> str:
    """Per model, the node times of a second pass (the first one finds the convolution algorithms)."""
    run_pass(detector, clip, batches, bound=False)
    run_pass(detector, clip, batches, bound=False)
    lines = []
    calls = {"detector": len(batches), "CLIP": sum(len(crops) for _, crops in batches)}
    for name, model in (("detector", detector), ("CLIP", clip)):
        events = json.loads(Path(model.end_profiling()).read_text())
        if not calls[name]:
            continue
        runs = sorted((e for e in events if e.get("name") == "model_run"), key=lambda e: e["ts"])[-calls[name]:]
        nodes = [e for e in events if e.get("cat") == "Node" and e["name"].endswith("_kernel_time")
                 and e["ts"] >= runs[0]["ts"]]
        by_provider: Counter[str] = Counter()
        by_node: Counter[tuple[str, str, str]] = Counter()
        for event in nodes:
            provider = event.get("args", {}).get("provider", "?")
            by_provider[provider] += event["dur"] / 1000
            by_node[(event["name"].removesuffix("_kernel_time"), event["args"].get("op_name", "?"), provider)] += (
                event["dur"] / 1000)
        run_ms = sum(e["dur"] for e in runs) / 1000
        lines.append(f"\n{name}, second pass: model_run {run_ms:.1f} ms in all; node time (host side) by provider: "
                     + ", ".join(f"{p} {ms:.1f} ms" for p, ms in by_provider.most_common()))
        lines.append("| node | op | provider | ms |\n|---|---|---|---:|")
        lines += [f"| {n} | {op} | {p} | {ms:.1f} |" for (n, op, p), ms in by_node.most_common(top)]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=Path, default=DEFAULT_IMAGES)
    parser.add_argument("--count", type=int, default=256)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--passes", type=int, default=2, help="timed passes per row (after one warm-up pass)")
    args = parser.parse_args(argv)
    import onnxruntime as ort

    paths = sorted(p for p in args.images.iterdir() if p.suffix.lower() in {".jpg", ".jpeg", ".png", ".webp"})
    blobs = [p.read_bytes() for p in paths[: args.count]]
    if not blobs:
        parser.error(f"no .jpg/.jpeg/.png/.webp images in {args.images}")
    layout = Layout(1, 1, args.batch, blobs)
    batches = layout.inputs
    settings = get_settings()
    detector_path, clip_path = layout.pipeline.detector.path, layout.pipeline.embedder.image_model.path
    cuda = "CUDAExecutionProvider" in ort.get_available_providers() and settings.ort_providers != "cpu"
    crops = sum(c.shape[0] for _, cs in batches for c in cs)
    print(f"# {len(blobs)} images in {len(batches)} batches of {args.batch} ({crops} crops for CLIP); "
          f"onnxruntime {ort.__version__}, {'CUDA' if cuda else 'CPU'}, {os.cpu_count()} CPUs, "
          f"{settings.ort_threads_per_session} intra-op threads as shipped\n")
    names = ["CUDAExecutionProvider", "CPUExecutionProvider"] if cuda else ["CPUExecutionProvider"]
    shipped = with_provider_options(names, settings)

    def cuda_with(**extra: str) -> list[Any]:
        return [(p[0], {**p[1], **extra}) if isinstance(p, tuple) else p for p in shipped]

    rows = [Row("as shipped", shipped)]
    if cuda:
        rows = [Row("ORT defaults (EXHAUSTIVE convs, every core)", names, threads=0, spinning=True), *rows,
                Row("NHWC convs", cuda_with(prefer_nhwc="1")),
                Row("small conv workspace", cuda_with(cudnn_conv_use_max_workspace="0")),
                Row("CLIP batches padded to one shape", shipped, pad=True)]
    rows.append(Row("all threads", shipped, threads=0, spinning=True))
    if cuda:
        rows.append(Row("inputs on device", shipped, bound=True))
    print("| options | detector img/s | CLIP crops/s | both img/s |\n|---|---:|---:|---:|")
    for row in rows:
        threads = settings.ort_threads_per_session if row.threads is None else row.threads
        detector = session(detector_path, row.providers, threads, row.spinning)
        clip = session(clip_path, row.providers, threads, row.spinning)
        inputs = padded(batches) if row.pad else batches
        inputs = on_device(inputs) if row.bound else inputs
        d, c = best_of(args.passes, lambda: run_pass(detector, clip, inputs, row.bound))  # noqa: B023
        print(f"| {row.name} | {len(blobs) / d:.1f} | {crops / c:.1f} | {len(blobs) / (d + c):.1f} |", flush=True)
    threads = settings.ort_threads_per_session
    print(profile_summary(session(detector_path, shipped, threads, False, profile=True),
                          session(clip_path, shipped, threads, False, profile=True), batches))


if __name__ == "__main__":
    main()
