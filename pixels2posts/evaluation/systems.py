"""The systems under test. Each gets the item's image and nothing else: never the shop's title or description.

- `rag`: pixels2posts in-process: vision stage -> evidence pack -> CaptionWriter (LLM with the grounding check, or
  the deterministic writer alone when `llm_max_attempts` is 0).
- `baseline`: the end-to-end image-to-text captioner (models/baseline, ONNX), the paper's fine-tuned-BLIP role.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from shared.schemas import EvidencePack
from shared.settings import Settings

if TYPE_CHECKING:
    from workers.language.shop_copy import ShopCopy


@dataclass(frozen=True)
class SystemOutput:
    caption: str
    hashtags: list[str]
    writer: str  # "llm" | "fallback" | "baseline"
    evidence: EvidencePack | None
    seconds: float


class CaptionSystem(Protocol):
    name: str

    def caption(self, image: Path) -> SystemOutput: ...


class RagSystem:
    """`packs` may be shared between runs over the same images: the vision stage is deterministic, so a second
    writer reuses the packs, and each item is still charged its vision seconds."""

    def __init__(self, settings: Settings, deterministic_only: bool = False,
                 packs: dict[Path, tuple[EvidencePack, float]] | None = None,
                 shop_copy: ShopCopy | None = None) -> None:
        """shop_copy: the shop's descriptions for the style examples, with the evaluated items' own left out
        (ShopCopy.without); None: none at all, whatever the settings name."""
        from workers.language.pipeline import CaptionWriter
        from workers.language.shop_copy import ShopCopy
        from workers.vision.pipeline import VisionPipeline

        if deterministic_only:
            settings = settings.model_copy(update={"llm_max_attempts": 0})
        self.name = "rag-deterministic" if deterministic_only else "rag"
        self._writer = CaptionWriter(settings, shop_copy=shop_copy if shop_copy is not None else ShopCopy({}))
        self._vision = VisionPipeline(settings)
        self._packs = {} if packs is None else packs

    def caption(self, image: Path) -> SystemOutput:
        from shared.images import load_image

        if image not in self._packs:
            started = time.perf_counter()
            pack = self._vision.evidence(load_image(image, min_side=self._vision.min_side))
            self._packs[image] = (pack, time.perf_counter() - started)
        pack, vision_seconds = self._packs[image]
        started = time.perf_counter()
        result = self._writer.write(pack)
        return SystemOutput(result.caption, list(result.hashtags), "fallback" if result.provenance.fallback else "llm",
                            pack, vision_seconds + time.perf_counter() - started)


class BaselineSystem:
    name = "baseline"

    def __init__(self, model_dir: Path | None = None) -> None:
        from pixels2posts.evaluation.baseline import BaselineCaptioner

        self._model = BaselineCaptioner(model_dir)

    def caption(self, image: Path) -> SystemOutput:
        started = time.perf_counter()
        text = self._model.caption_file(image)
        return SystemOutput(text, [], "baseline", None, time.perf_counter() - started)
