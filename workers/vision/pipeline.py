"""Evidence packs for batches of images: detect -> crop -> colours + embed -> retrieve -> vote -> assemble.

One detector call and one embedder call per batch (all garment crops and every whole image together), one FAISS
search. The whole image goes through the image tower too: its garment-type head names the garment of packshots,
flat-lays and hangers when the street-trained detector finds nothing (or a single garment it disagrees with), and
its gender/fabric heads are checked against the crops' (workers/vision/attributes.py: answer or abstain).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from shared.images import DecodedImage
from shared.schemas import Attribute, Attributes, EvidencePack, Garment, ImageInfo, Neighbour
from shared.settings import Settings, get_settings
from workers.vision.attributes import decide, in_domain, mix
from workers.vision.backdrop import backdrop_of
from workers.vision.colour_model import ColourModel, ColourReading, read_colours_batch
from workers.vision.colours import PersonMasker, dominant_colours_batch
from workers.vision.embedder import ClipEmbedder, ImageAnalysis
from workers.vision.garment_types import COARSE
from workers.vision.gates import gate_attributes, gate_garments
from workers.vision.index import ProductIndex
from workers.vision.prep import map_indices
from workers.vision.resize import Picture, Window
from workers.vision.retrieval import VOTED_ATTRIBUTES, Calibrator, Vote, combine, style_examples, vote

log = logging.getLogger(__name__)

BUNDLED_INDEX = "index"
COLOUR_MODEL = ("clip", "colour.npz")  # under models_dir; without it colours are named as before, unrated
MIN_CROP_SIDE = 4
COLOUR_CHUNK_MIN = 8  # fewer crops than this per thread are read in one call: a hand-off would cost more
# class-aware NMS keeps a "shirt" on the very box of a "jacket", and a "shoe" box inside a two-shoe box:
# one garment each in a caption
SAME_REGION_IOU = 0.85
INSIDE_SHARE = 0.9
# whole-image garment type: reported as a garment when the detector found none at or above this probability,
# and it overrides a single detected garment of another class at or above OVERRIDE_MIN_PROB (below it, the two
# disagreeing, the garment is dropped). 0.5 and the drop were picked on H&M calibration products
# (training/tower/pack_truth.py): garment contradictions 0.26 -> 0.14 of the packs naming one, recall 0.72 -> 0.76.
# Both compare the head's probability of the detector class (`_class_probability`).
IMAGE_GARMENT_MIN_PROB = 0.3
OVERRIDE_MIN_PROB = 0.5
CATEGORY_MIN_PROB = 0.5
# a flat image (a blank, a wall) shows no product, whatever the head says
MIN_PIXEL_STD = 4.0


@dataclass(frozen=True)
class _Crop:
    image: int            # index of the image in the batch
    garment: int | None   # index of the garment in that image, None for a whole-image query
    weight: float         # detection score x box area share (for the image-level vote)
    window: Window        # its pixels: a window of the image's Picture (one transpose per image for all resizes)

    @property
    def rgb(self) -> np.ndarray:
        return self.window.rgb


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


def class_probability(probs: np.ndarray, vocabulary: Sequence[str], label: str) -> float:
    """The type head's probability of a detector class: the sum over the finer types that map onto it."""
    return round(float(sum(p for p, kind in zip(probs, vocabulary, strict=True) if COARSE.get(kind) == label)), 4)


def _class_probability(garment: Garment) -> float:
    """The type head's probability of the garment's detector class (its finer types summed): the whole-image rules
    compare this, not the top finer type's probability, which a calibrated head spreads over t-shirt/top/blouse."""
    return garment.type_confidence or 0.0


def _withheld(candidates: list[Garment], stated: list[Garment], whole: Garment | None) -> list[Garment]:
    """The candidates the gates kept back; with no candidate at all, the whole image's garment (its best guess)."""
    said = {(garment.label, garment.box) for garment in stated}
    withheld = [garment for garment in candidates if (garment.label, garment.box) not in said]
    if not candidates and not stated and whole is not None:
        withheld.append(whole)
    return withheld


def _colour_confidence(reading: ColourReading) -> float | None:
    return round(float(reading.confidence), 4) if reading.family is not None else None


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
        self._colour_model: ColourModel | None = None
        self._colour_model_loaded = False

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
            # batches already run side by side: a FAISS OpenMP team per search only oversubscribes the cores
            self._index = ProductIndex(self.settings.index_dir or self.settings.models_dir / BUNDLED_INDEX,
                                       threads=self.settings.ort_threads_per_session)
        return self._index

    @property
    def masker(self) -> PersonMasker | None:
        if self._masker is None and self.settings.person_mask_path is not None:
            self._masker = PersonMasker(self.settings.person_mask_path)
        return self._masker

    @property
    def colour_model(self) -> ColourModel | None:
        if not self._colour_model_loaded:
            path = self.settings.models_dir.joinpath(*COLOUR_MODEL)
            self._colour_model = ColourModel(path) if path.is_file() else None
            self._colour_model_loaded = True
        return self._colour_model

    def colour_readings(self, crops: Sequence[np.ndarray],
                        persons: Sequence[np.ndarray | None] | None = None) -> list[ColourReading]:
        """Each crop's colour: the learned namer's, stated only when confident; without it, every k-means colour
        (the previous behaviour), with no confidence."""
        # a crop's reading does not depend on the other crops of its call (tests/attributes/test_colour_model.py),
        # so the batch's crops are read in one chunk per core this batch runner owns (workers.vision.prep)
        persons = persons if persons is not None else [None] * len(crops)
        threads = min(self.settings.ort_threads_per_session, len(crops) // COLOUR_CHUNK_MIN) or 1
        bounds = [len(crops) * k // threads for k in range(threads + 1)]
        chunks = map_indices(lambda k: self._colour_chunk(crops[bounds[k]:bounds[k + 1]],
                                                          persons[bounds[k]:bounds[k + 1]]), threads, threads)
        return [reading for chunk in chunks for reading in chunk]

    def _colour_chunk(self, crops: Sequence[np.ndarray],
                      persons: Sequence[np.ndarray | None]) -> list[ColourReading]:
        if self.colour_model is not None:
            return read_colours_batch(self.colour_model, crops, persons)
        return [ColourReading(found, None, 0.0, True) for found in dominant_colours_batch(crops, persons)]

    @property
    def min_side(self) -> int:
        """Decode hint for load_image(min_side=...): the detector's input side is all the detail it sees."""
        return int(self.detector.input_size)

    @property
    def versions(self) -> dict[str, str]:
        versions = {"detector": self.detector.version, "clip": self.embedder.version, "index": self.index.version}
        if self.colour_model is not None:
            versions["colour"] = self.colour_model.version
        return versions

    # ---- the batch ----
    def evidence(self, image: DecodedImage) -> EvidencePack:
        return self.evidence_batch([image])[0]

    def evidence_batch(self, images: Sequence[DecodedImage]) -> list[EvidencePack]:
        if not images:
            return []
        pictures = [Picture(image.rgb) for image in images]
        detections = self.detector.detect_batch(images, pictures)
        crops: list[_Crop] = []
        kept: list[tuple[Any, np.ndarray | None]] = []  # (detection, person mask of its box) per garment crop
        for n, (image, found) in enumerate(zip(images, detections, strict=True)):
            person = self.masker(image.rgb) if self.masker is not None and found else None
            area = float(image.width * image.height)
            garment_count = 0
            for detection in select_garments(found, self.settings.garment_min_score):
                x1, y1, x2, y2 = _decoded_box(detection.box, image)
                if x2 - x1 < MIN_CROP_SIDE or y2 - y1 < MIN_CROP_SIDE:
                    continue
                box_area = (detection.box[2] - detection.box[0]) * (detection.box[3] - detection.box[1])
                crops.append(_Crop(n, garment_count, detection.score * box_area / area,
                                   pictures[n].window(y1, x1, y2 - y1, x2 - x1)))
                kept.append((detection, person[y1:y2, x1:x2] if person is not None else None))
                garment_count += 1
            crops.append(_Crop(n, None, 1.0, pictures[n].window()))
        garment_crops = [crop for crop in crops if crop.garment is not None]
        # one vectorised colour pass over every garment of the batch
        readings = self.colour_readings([crop.rgb for crop in garment_crops], [person for _, person in kept])
        garments: list[list[Garment]] = [[] for _ in images]
        colour_of: list[list[ColourReading]] = [[] for _ in images]
        for crop, (detection, _), reading in zip(garment_crops, kept, readings, strict=True):
            # an unconfident colour is left out of the pack: the language stage states every colour it finds there
            stated = reading.colours if reading.confident else []
            garments[crop.image].append(Garment(label=detection.label, score=round(float(detection.score), 4),
                                                box=detection.box, colours=stated,
                                                colour_confidence=_colour_confidence(reading)))
            colour_of[crop.image].append(reading)
        analysis = self.embedder.analyse_images([c.window for c in crops], batch_size=self.settings.clip_batch_size)
        scores, rows = self.index.search(analysis.embeddings, self.settings.top_k)
        return [self._assemble(n, image, garments[n], colour_of[n], crops, analysis, scores, rows, self.versions)
                for n, image in enumerate(images)]

    def _assemble(self, n: int, image: DecodedImage, garments: list[Garment], readings: list[ColourReading],
                  crops: list[_Crop],
                  analysis: ImageAnalysis, scores: np.ndarray, rows: np.ndarray,
                  versions: dict[str, str]) -> EvidencePack:
        whole = next(i for i, crop in enumerate(crops) if crop.image == n and crop.garment is None)
        parts = [i for i, crop in enumerate(crops) if crop.image == n and crop.garment is not None]
        mine = parts or [whole]  # the neighbour vote: garment crops, else the whole image
        weights = [crops[i].weight for i in mine]
        neighbour_sets = [self._neighbours(scores[i], rows[i]) for i in mine]
        votes = {name: combine([vote([lab.get(name) for lab, _ in found], [s for _, s in found])
                                for found in neighbour_sets], weights)
                 for name in VOTED_ATTRIBUTES}
        # the type head's garment for the whole image, once per image (None: no head, a flat image, no garment class)
        flat = self._flat(image)
        whole_garment = None if flat else self._whole_image_garment(image, analysis, whole)
        garments, readings = self._garment_types(image, garments, readings, analysis, parts, flat, whole_garment)
        # the index's own statistic compares whole catalogue photos with each other, so the whole image's best
        # neighbour counts too (a garment crop is rarely as close to a catalogue photo as the photo it came from)
        best_similarity = max((s for found in [*neighbour_sets, self._neighbours(scores[whole], rows[whole])]
                               for _, s in found), default=-1.0)
        attributes = self._attributes(votes, analysis, parts, [crops[i].weight for i in parts], whole,
                                      best_similarity)
        attributes.colour = self._main_colour(readings, [crops[i].weight for i in parts])
        backdrop = backdrop_of(image.rgb)
        gates = self.settings.statement_gates_for(backdrop)
        stated = self._gated_garments(image, garments, whole_garment, gates)
        attributes = gate_attributes(attributes, gates)
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
            garments=stated,
            withheld=_withheld(garments, stated, whole_garment),
            attributes=attributes,
            backdrop=backdrop,
            neighbours=[Neighbour(product_id=pid, score=round(best[pid], 4)) for pid in ranked],
            style_examples=style_examples([labels_by_id[pid] for pid in ranked]),
            models=versions,
        )

    def _neighbours(self, scores: np.ndarray, rows: np.ndarray) -> list[tuple[dict[str, Any], float]]:
        return [(self.index.item(int(r)), float(s)) for s, r in zip(scores, rows, strict=True) if r >= 0]

    def _garment_types(self, image: DecodedImage, garments: list[Garment], readings: list[ColourReading],
                       analysis: ImageAnalysis, parts: list[int], flat: bool,
                       found: Garment | None) -> tuple[list[Garment], list[ColourReading]]:
        """Refine detected garments with the crop's type; name the garment of a product photo from the whole image."""
        vocabulary = self.embedder.head_vocabularies.get("garment")
        if not vocabulary:
            return garments, readings
        types = analysis.heads["garment"]
        for garment, row in zip(garments, parts, strict=True):
            kind = vocabulary[int(types[row].argmax())]
            if COARSE.get(kind) == garment.label:
                garment.category = kind
            garment.source = "detector"
            garment.type_confidence = class_probability(types[row], vocabulary, garment.label)
        if flat:
            return garments, readings
        if len(garments) == 1 and (found is None or garments[0].label != found.label):
            if found is not None and _class_probability(found) >= OVERRIDE_MIN_PROB:
                # a single-product photo the street detector reads as another class: the product head knows better
                relabelled = {"label": found.label, "category": found.category, "source": "image",
                              "type_confidence": found.type_confidence}
                return [garments[0].model_copy(update=relabelled)], readings
            # the detector and the product head disagree and neither is sure, or the head names a product no
            # detector class covers (socks): on H&M calibration products the lone detection was then right for fewer
            # than 1 in 10; naming no garment beats naming a wrong one
            return [], []
        if not garments and found is not None and _class_probability(found) >= IMAGE_GARMENT_MIN_PROB:
            return self._with_colours(found, image)
        return garments, readings

    def _whole_image_garment(self, image: DecodedImage, analysis: ImageAnalysis, whole: int) -> Garment | None:
        """The garment the type head names for the whole image (None: no head, or a type no detector class covers)."""
        vocabulary = self.embedder.head_vocabularies.get("garment")
        if not vocabulary:
            return None
        types = analysis.heads["garment"][whole]
        kind, prob = vocabulary[int(types.argmax())], float(types.max())
        label = COARSE.get(kind)
        if label is None:
            return None
        return Garment(label=label, score=round(prob, 4), category=kind, source="image",
                       box=(0.0, 0.0, float(image.width), float(image.height)), colours=[],
                       type_confidence=class_probability(types, vocabulary, label))

    @staticmethod
    def _flat(image: DecodedImage) -> bool:
        """A flat image (a blank, a wall) shows no product, whatever the head says."""
        return float(image.rgb[::8, ::8].std()) < MIN_PIXEL_STD

    def _with_colours(self, garment: Garment, image: DecodedImage) -> tuple[list[Garment], list[ColourReading]]:
        reading = self.colour_readings([image.rgb])[0]
        coloured = garment.model_copy(update={"colours": reading.colours if reading.confident else [],
                                              "colour_confidence": _colour_confidence(reading)})
        return [coloured], [reading]

    def _gated_garments(self, image: DecodedImage, garments: list[Garment], found: Garment | None,
                        gates: Mapping[str, float]) -> list[Garment]:
        """The garments that clear the statement gates; when none does, the whole image's garment if it clears them
        (an on-model shot whose detections the type head contradicts still names its product)."""
        kept = gate_garments(garments, gates)
        if kept or not garments or found is None or not gate_garments([found], gates):
            return kept
        return gate_garments(self._with_colours(found, image)[0], gates)

    @staticmethod
    def _main_colour(readings: list[ColourReading], weights: list[float]) -> Attribute | None:
        """The colour of the main garment (largest detection score x box area; the whole-image garment when it is
        the only one), with the namer's confidence; value None when it abstained. None without a learned namer."""
        if not readings or readings[0].family is None:
            return None
        main = readings[int(np.argmax(weights))] if len(weights) == len(readings) else readings[0]
        name = main.colours[0].name if main.confident and main.colours else None
        return Attribute(value=name, confidence=main.confidence, source="image")

    def _attributes(self, votes: dict[str, Vote], analysis: ImageAnalysis, parts: list[int],
                    part_weights: list[float], whole: int, best_similarity: float) -> Attributes:
        calibrator = Calibrator(self.index.manifest.get("calibration"))
        thresholds = self.settings.attribute_thresholds
        vocabularies = self.embedder.head_vocabularies
        head_thresholds = self.embedder.head_thresholds
        domain_ok = in_domain(best_similarity, self.index.manifest)
        decided: dict[str, Attribute] = {}
        for name in VOTED_ATTRIBUTES:
            probs = analysis.heads.get(name)
            crops = mix([probs[i] for i in parts], part_weights) if probs is not None and parts else None
            whole_probs = probs[whole] if probs is not None else None
            decided[name] = decide(name, vocabularies.get(name, []), crops, whole_probs, votes[name], calibrator,
                                   head_thresholds.get(name), thresholds[name], domain_ok)
        category = None
        types = analysis.heads.get("garment")
        if types is not None:
            kind, prob = vocabularies["garment"][int(types[whole].argmax())], float(types[whole].max())
            category = Attribute(value=kind if prob >= CATEGORY_MIN_PROB else None, confidence=round(prob, 4),
                                 source="image")
        return Attributes(gender=decided["gender"], fabric=decided["fabric"], category=category)
