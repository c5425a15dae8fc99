"""Per-process state of a worker: the job store, the blob store, the stage objects and the vision
micro-batcher.

Everything is created once per process on first use (the ONNX sessions inside the stages, too), so a
worker runs a `threads` or `solo` pool and never carries a CUDA context across fork. Tests and the
benchmark may swap the stage classes with `use_stages` (import paths "module:Class")."""

from __future__ import annotations

import importlib
import threading
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from producer.blobs import BlobStore
from shared.errors import ModelNotAvailableError
from shared.images import DecodedImage
from shared.schemas import CaptionResult, EvidencePack, ShopMetadata
from shared.settings import Settings, get_settings
from shared.store import JobStore, migrate
from workers.batching import MicroBatcher
from workers.metrics import BATCH_SECONDS, BATCH_SIZE

DEFAULT_VISION = "workers.vision.pipeline:VisionPipeline"
DEFAULT_LANGUAGE = "workers.language.pipeline:CaptionWriter"


class VisionPipelineLike(Protocol):
    def evidence_batch(self, images: Sequence[DecodedImage]) -> list[EvidencePack]: ...


class CaptionWriterLike(Protocol):
    def write(self, pack: EvidencePack, meta: ShopMetadata | None = None) -> CaptionResult: ...


_lock = threading.RLock()
_paths = {"vision": DEFAULT_VISION, "language": DEFAULT_LANGUAGE}
_cache: dict[str, Any] = {}


def use_stages(*, vision: str | None = None, language: str | None = None) -> None:
    """Choose the stage classes (before first use)."""
    with _lock:
        if vision:
            _paths["vision"] = vision
            _cache.pop("vision", None)
            _cache.pop("batcher", None)
        if language:
            _paths["language"] = language
            _cache.pop("language", None)


def load_object(path: str) -> Any:
    module_name, _, attribute = path.partition(":")
    try:
        return getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise ModelNotAvailableError(f"stage {path} is not available in this build: {exc}") from exc


def _once(name: str, build: Any) -> Any:
    with _lock:
        if name not in _cache:
            _cache[name] = build()
        return _cache[name]


def settings() -> Settings:
    return get_settings()


def job_store() -> JobStore:
    def build() -> JobStore:
        url = settings().database_url
        migrate(url)
        return JobStore(url)

    store: JobStore = _once("store", build)
    return store


def blob_store() -> BlobStore:
    blobs: BlobStore = _once("blobs", lambda: BlobStore(settings().blob_dir))
    return blobs


def vision_pipeline() -> VisionPipelineLike:
    pipeline: VisionPipelineLike = _once("vision", lambda: load_object(_paths["vision"])(settings()))
    return pipeline


def vision_min_side() -> int | None:
    side = getattr(vision_pipeline(), "min_side", None)
    return int(side) if side else None


def warm_up_vision() -> None:
    """Run one small batch before consuming: the ONNX sessions load now and a broken model fails the start."""
    side = vision_min_side() or 64
    blank = DecodedImage(np.full((side, side, 3), 128, dtype=np.uint8), "0" * 64, side, side)
    vision_pipeline().evidence_batch([blank])


def _record_batch(size: int, seconds: float) -> None:
    BATCH_SIZE.observe(size)
    BATCH_SECONDS.observe(seconds)


def vision_batcher() -> MicroBatcher[DecodedImage, EvidencePack]:
    def build() -> MicroBatcher[DecodedImage, EvidencePack]:
        current = settings()
        return MicroBatcher(
            vision_pipeline().evidence_batch,
            max_size=current.batch_size,
            max_wait_s=current.batch_wait_ms / 1000,
            on_batch=_record_batch,
            name="vision-batcher",
        )

    batcher: MicroBatcher[DecodedImage, EvidencePack] = _once("batcher", build)
    return batcher


def caption_writer() -> CaptionWriterLike:
    writer: CaptionWriterLike = _once("language", lambda: load_object(_paths["language"])(settings()))
    return writer


def close() -> None:
    with _lock:
        batcher = _cache.pop("batcher", None)
        if batcher is not None:
            batcher.close()
