"""Evidence packs for batches of images: detect -> crop -> colours + embed -> retrieve -> vote -> assemble.

One detector call and one embedder call per batch (all garment crops of all images together), one FAISS search.
An image with no garment detected still gets a valid pack: no garments, and its attributes voted from the
embedding of the whole image (so a close-up product shot still says something); they fall to unknown when the
vote is weak, like any other.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from shared.images import DecodedImage
from shared.schemas import Attributes, EvidencePack, Garment, ImageInfo, Neighbour
from shared.settings import Settings, get_settings
from workers.vision.colours import PersonMasker, dominant_colours
from workers.vision.embedder import ClipEmbedder
from workers.vision.index import ProductIndex
from workers.vision.retrieval import VOTED_ATTRIBUTES, Calibrator, Vote, combine, style_examples, vote

log = logging.getLogger(__name__)

BUNDLED_INDEX = "index"
MIN_CROP_SIDE = 4
# class-aware NMS keeps a "shirt" on the very box of a "jacket", and a "shoe" box inside a two-shoe box:
# one garment each in a caption
SAME_REGION_IOU = 0.85
INSIDE_SHARE = 0.9


@dataclass(frozen=True)
class _Crop:
    image: int            # index of the image in the batch
    garment: int | None   # index of the garment in that image, None for a whole-image query
    weight: float         # detection score x box area share (for the image-level vote)
    rgb: np.ndarray


def _box_area(box: tuple[float, float, float, float]) -> float:
    return max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1])


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    return _box_area((max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])))


def select_garments(detections: Sequence[Any], min_score: float) -> list[Any]:
    """The detections an evidence pack reports: confident ones, one per region (best score first)."""
    kept: list[Any] = []
    for detection in sorted(detections, key=lambda d: -d.score):
        if detection.score < min_score:
            continue
        duplicate = False
        for other in kept:
            inter = _overlap(detection.box, other.box)
            union = _box_area(detection.box) + _box_area(other.box) - inter
            smaller = min(_box_area(detection.box), _box_area(other.box))
            same_region = union > 0 and inter / union >= SAME_REGION_IOU
            nested = detection.label == other.label and smaller > 0 and inter / smaller >= INSIDE_SHARE
            if same_region or nested:
                duplicate = True
                break
        if not duplicate:
            kept.append(detection)
    return kept


def _decoded_box(box: tuple[float, float, float, float], image: DecodedImage) -> tuple[int, int, int, int]:
    """Original-pixel box -> integer box in the decoded array (clipped)."""
    height, width = image.rgb.shape[:2]
    x1, y1, x2, y2 = (v / image.scale for v in box)
    return (int(np.clip(np.floor(x1), 0, width)), int(np.clip(np.floor(y1), 0, height)),
            int(np.clip(np.ceil(x2), 0, width)), int(np.clip(np.ceil(y2), 0, height)))


class VisionPipeline:
    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or get_settings()
        self._lock = threading.Lock()
        self._detector: Any = None
        self._embedder: ClipEmbedder | None = None
        self._index: ProductIndex | None = None
        self._masker: PersonMasker | None = None

    # ---- lazily loaded parts (once per process) ----
    @property
    def detector(self) -> Any:
        if self._detector is None:
            with self._lock:
                if self._detector is None:
                    from workers.vision.detector import GarmentDetector

                    self._detector = GarmentDetector(settings=self.settings)
        return self._detector

    @property
    def embedder(self) -> ClipEmbedder:
        if self._embedder is None:
            self._embedder = ClipEmbedder(self.settings)
        return self._embedder

    @property
    def index(self) -> ProductIndex:
        if self._index is None:
            self._index = ProductIndex(self.settings.index_dir or self.settings.models_dir / BUNDLED_INDEX)
        return self._index

    @property
    def masker(self) -> PersonMasker | None:
        if self._masker is None and self.settings.person_mask_path is not None:
            self._masker = PersonMasker(self.settings.person_mask_path)
        return self._masker

    @property
    def min_side(self) -> int:
        """Decode hint for load_image(min_side=...): the detector's input side is all the detail it sees."""
        return int(self.detector.input_size)

    @property
    def versions(self) -> dict[str, str]:
        return {"detector": self.detector.version, "clip": self.embedder.version, "index": self.index.version}

    # ---- the batch ----
    def evidence(self, image: DecodedImage) -> EvidencePack:
        return self.evidence_batch([image])[0]

    def evidence_batch(self, images: Sequence[DecodedImage]) -> list[EvidencePack]:
        if not images:
            return []
        detections = self.detector.detect_batch(images)
        garments: list[list[Garment]] = [[] for _ in images]
        crops: list[_Crop] = []
        for n, (image, found) in enumerate(zip(images, detections, strict=True)):
            person = self.masker(image.rgb) if self.masker is not None and found else None
            area = float(image.width * image.height)
            for detection in select_garments(found, self.settings.garment_min_score):
                x1, y1, x2, y2 = _decoded_box(detection.box, image)
                if x2 - x1 < MIN_CROP_SIDE or y2 - y1 < MIN_CROP_SIDE:
                    continue
                rgb = image.rgb[y1:y2, x1:x2]
                colours = dominant_colours(rgb, person[y1:y2, x1:x2] if person is not None else None)
                garments[n].append(Garment(label=detection.label, score=round(float(detection.score), 4),
                                           box=detection.box, colours=colours))
                box_area = (detection.box[2] - detection.box[0]) * (detection.box[3] - detection.box[1])
                crops.append(_Crop(n, len(garments[n]) - 1, detection.score * box_area / area, rgb))
            if not garments[n]:
                crops.append(_Crop(n, None, 1.0, image.rgb))
        vectors = self.embedder.embed_images([c.rgb for c in crops], batch_size=max(8, self.settings.batch_size))
        scores, rows = self.index.search(vectors, self.settings.top_k)
        return [self._assemble(n, image, garments[n], crops, scores, rows, self.versions)
                for n, image in enumerate(images)]

    def _assemble(self, n: int, image: DecodedImage, garments: list[Garment], crops: list[_Crop],
                  scores: np.ndarray, rows: np.ndarray, versions: dict[str, str]) -> EvidencePack:
        mine = [i for i, crop in enumerate(crops) if crop.image == n]
        weights = [crops[i].weight for i in mine]
        neighbour_sets = [self._neighbours(scores[i], rows[i]) for i in mine]
        votes = {name: combine([vote([lab.get(name) for lab, _ in found], [s for _, s in found])
                                for found in neighbour_sets], weights)
                 for name in VOTED_ATTRIBUTES}
        attributes = self._attributes(votes)
        best: dict[str, float] = {}
        labels_by_id: dict[str, dict[str, Any]] = {}
        for found in neighbour_sets:
            for labels, score in found:
                if score > best.get(labels["id"], -2.0):
                    best[labels["id"]] = score
                    labels_by_id[labels["id"]] = labels
        ranked = sorted(best, key=lambda pid: -best[pid])[: self.settings.top_k]
        return EvidencePack(
            image=ImageInfo(sha256=image.sha256, width=image.width, height=image.height),
            garments=garments,
            attributes=attributes,
            neighbours=[Neighbour(product_id=pid, score=round(best[pid], 4)) for pid in ranked],
            style_examples=style_examples([labels_by_id[pid] for pid in ranked]),
            models=versions,
        )

    def _neighbours(self, scores: np.ndarray, rows: np.ndarray) -> list[tuple[dict[str, Any], float]]:
        return [(self.index.item(int(r)), float(s)) for s, r in zip(scores, rows, strict=True) if r >= 0]

    def _attributes(self, votes: dict[str, Vote]) -> Attributes:
        calibrator = Calibrator(self.index.manifest.get("calibration"))
        thresholds = self.settings.attribute_thresholds
        return Attributes(gender=calibrator.attribute("gender", votes["gender"], thresholds["gender"]),
                          fabric=calibrator.attribute("fabric", votes["fabric"], thresholds["fabric"]))
