"""What one worker process holds: its settings, the job store, the blob store and its stage (the vision pipeline
behind the cross-job micro-batcher, or the caption writer).

`pixels2posts worker` builds it with `start_vision` / `start_language` before consuming (the models load then, so a
broken model fails the start, not the first job) and installs it; the tasks read it with `current()`. It lives in
the worker process (threads pool): ONNX sessions and CUDA contexts are never carried across fork."""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from shared.blobs import BlobStore
from shared.errors import ConfigError
from shared.images import DecodedImage
from shared.schemas import CaptionResult, EvidencePack, ShopMetadata
from shared.settings import Settings
from shared.store import JobStore, migrate_when_reachable
from workers.batching import MicroBatcher
from workers.metrics import BATCH_SECONDS, BATCH_SIZE


class VisionPipelineLike(Protocol):
    def evidence_batch(self, images: Sequence[DecodedImage]) -> list[EvidencePack]: ...


class CaptionWriterLike(Protocol):
    def write(self, pack: EvidencePack, meta: ShopMetadata | None = None) -> CaptionResult: ...


class VisionStage:
    """The vision pipeline behind the micro-batcher that gathers images across concurrent jobs."""

    def __init__(self, pipeline: VisionPipelineLike, settings: Settings) -> None:
        self.pipeline = pipeline
        side = getattr(pipeline, "min_side", None)
        self.min_side: int | None = int(side) if side else None
        self.batcher: MicroBatcher[DecodedImage, EvidencePack] = MicroBatcher(
            pipeline.evidence_batch,
            max_size=settings.batch_size,
            max_wait_s=settings.batch_wait_ms / 1000,
            runners=settings.vision_batch_workers,
            on_batch=_record_batch,
            name="vision-batcher",
        )

    def warm_up(self) -> None:
        """Run one small batch: the ONNX sessions load now and a broken model fails the start."""
        side = self.min_side or 64
        blank = DecodedImage(np.full((side, side, 3), 128, dtype=np.uint8), "0" * 64, side, side)
        self.pipeline.evidence_batch([blank])

    def close(self) -> None:
        self.batcher.close()


@dataclass
class WorkerRuntime:
    settings: Settings
    store: JobStore
    blobs: BlobStore
    vision: VisionStage | None = None
    writer: CaptionWriterLike | None = None

    def vision_stage(self) -> VisionStage:
        if self.vision is None:
            raise ConfigError("this worker runs no vision stage: a vision task reached a language worker")
        return self.vision

    def caption_writer(self) -> CaptionWriterLike:
        if self.writer is None:
            raise ConfigError("this worker runs no language stage: a language task reached a vision worker")
        return self.writer

    def close(self) -> None:
        if self.vision is not None:
            self.vision.close()


def open_runtime(settings: Settings) -> WorkerRuntime:
    """The stores of a worker, with the database migrated (waited for, when it is not up yet) before the first task."""
    migrate_when_reachable(settings.database_url, settings.database_wait_s)
    return WorkerRuntime(settings, JobStore(settings.database_url), BlobStore(settings.blob_dir))


def start_vision(settings: Settings, stage_class: str | None = None) -> WorkerRuntime:
    """A vision worker's runtime, its pipeline warmed up; `stage_class` ("module:Class") replaces the pipeline."""
    if stage_class:
        pipeline: VisionPipelineLike = import_stage_class(stage_class)(settings)
    else:
        from workers.vision.compiled import warm_up_kernels
        from workers.vision.pipeline import VisionPipeline  # only vision workers load onnxruntime and faiss

        warm_up_kernels()
        pipeline = VisionPipeline(settings)
    runtime = open_runtime(settings)
    runtime.vision = VisionStage(pipeline, settings)
    runtime.vision.warm_up()
    return runtime


def start_language(settings: Settings, stage_class: str | None = None) -> WorkerRuntime:
    """A language worker's runtime; `stage_class` ("module:Class") replaces the caption writer."""
    if stage_class:
        writer: CaptionWriterLike = import_stage_class(stage_class)(settings)
    else:
        from workers.language.pipeline import CaptionWriter

        writer = CaptionWriter(settings)
    runtime = open_runtime(settings)
    runtime.writer = writer
    return runtime


def import_stage_class(path: str) -> Any:
    """The class named by "module:Class"; a failing import raises its own error (what is missing, and where)."""
    module_name, _, attribute = path.partition(":")
    if not module_name or not attribute:
        raise ConfigError(f"a stage class is named 'module:Class', got {path!r}")
    module = importlib.import_module(module_name)
    try:
        return getattr(module, attribute)
    except AttributeError:
        raise ConfigError(f"module {module_name} has no {attribute!r} (stage class {path})") from None


_current: WorkerRuntime | None = None


def install(runtime: WorkerRuntime) -> None:
    """Make `runtime` the one the tasks of this process use."""
    global _current
    _current = runtime


def current() -> WorkerRuntime:
    if _current is None:
        raise ConfigError("no worker runtime: start workers with `pixels2posts worker vision|language`")
    return _current


def _record_batch(size: int, seconds: float) -> None:
    BATCH_SIZE.observe(size)
    BATCH_SECONDS.observe(seconds)
