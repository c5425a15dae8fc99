"""The garment detector at runtime: a YOLOv8n ONNX model run by ONNX Runtime, pre/post-processing in numpy.

No torch, no Ultralytics: letterbox (workers.vision.letterbox), one session call per chunk of at most
`settings.detector_batch_size` images, confidence filter, class-aware NMS (workers.vision.nms), boxes mapped back to the
ORIGINAL image's pixels (the decode `scale` applied).
"""

from __future__ import annotations

import ast
import functools
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from shared.errors import ModelNotAvailableError
from shared.images import DecodedImage
from shared.onnx_session import OrtModel
from shared.settings import Settings, get_settings
from shared.vocab import GARMENT_LABELS
from workers.vision.letterbox import Placement, canvas_shape, letterbox_tensor, to_image_boxes
from workers.vision.nms import class_aware_nms, xywh_to_xyxy
from workers.vision.resize import Picture, Resizable

BUNDLED_DETECTOR = "detector/garments-yolov8n.onnx"
DEFAULT_INPUT_SIZE = 640
MAX_DETECTIONS = 300
MAX_NMS_CANDIDATES = 30_000


@dataclass(frozen=True)
class Detection:
    label: str  # from shared.vocab.GARMENT_LABELS
    class_id: int
    score: float
    box: tuple[float, float, float, float]  # x1, y1, x2, y2 in ORIGINAL image pixels


@dataclass(frozen=True)
class PreparedBatch:
    """A letterboxed NCHW tensor ready for the session, with each image's placement and decode scale."""

    tensor: np.ndarray
    placements: list[Placement]
    scales: list[float]


class GarmentDetector:
    """Finds garments in images. The ONNX session loads on first use and is shared by threads."""

    def __init__(self, path: Path | None = None, settings: Settings | None = None) -> None:
        self._settings = settings or get_settings()
        self.path = (
            Path(path)
            if path is not None
            else self._settings.model_file(self._settings.detector_path, BUNDLED_DETECTOR)
        )
        self._model = OrtModel(self.path, self._settings)
        self.conf = self._settings.detector_conf
        self.iou = self._settings.detector_iou
        self._checked = False

    @functools.cached_property
    def version(self) -> str:
        """`model_version` from the ONNX metadata, else the file name and a content hash."""
        meta = self._model.metadata
        if meta.get("model_version"):
            return meta["model_version"]
        digest = hashlib.sha256(self.path.read_bytes()).hexdigest()[:10]
        return f"{self.path.stem}-{digest}"

    @property
    def input_size(self) -> int:
        """The model's square side (letterbox target); from the ONNX metadata `imgsz`."""
        imgsz = self._model.metadata.get("imgsz")
        if not imgsz:
            return DEFAULT_INPUT_SIZE
        parsed = ast.literal_eval(imgsz)
        return int(max(parsed) if isinstance(parsed, list | tuple) else parsed)

    @property
    def batch_size(self) -> int:
        return self._settings.detector_batch_size

    @property
    def labels(self) -> tuple[str, ...]:
        return GARMENT_LABELS

    @property
    def providers(self) -> list[str]:
        return self._model.providers

    def detect(self, image: DecodedImage) -> list[Detection]:
        return self.detect_batch([image])[0]

    def detect_batch(self, images: Sequence[DecodedImage],
                     pictures: Sequence[Picture] | None = None) -> list[list[Detection]]:
        """Detections per image, in order; ONE session call per chunk of `settings.detector_batch_size` images of
        the same canvas shape.

        A batch shares one letterbox canvas, and a photo padded onto a larger canvas than its own (a portrait one
        beside a landscape one) gets other detections near the score threshold: a job's evidence would depend on
        the jobs it happened to be batched with. Grouping by each image's own canvas keeps every image's input
        equal to its input alone. `pictures`: the images' pixels as Pictures, when the caller resizes them again
        (workers.vision.resize)."""
        self._check_model()
        results: list[list[Detection]] = [[] for _ in images]
        for indices in self._same_canvas_chunks(images):
            chunk_pictures = [pictures[i] for i in indices] if pictures is not None else None
            prepared = self.prepare([images[i] for i in indices], chunk_pictures)
            for i, found in zip(indices, self.postprocess(self.infer(prepared.tensor), prepared), strict=True):
                results[i] = found
        return results

    def _same_canvas_chunks(self, images: Sequence[DecodedImage]) -> list[list[int]]:
        """Indices of `images` grouped by the canvas each would get alone (first-seen order), in chunks of at most
        the detector batch size."""
        groups: dict[tuple[int, int], list[int]] = {}
        for i, image in enumerate(images):
            groups.setdefault(canvas_shape([image.rgb.shape[:2]], self.input_size), []).append(i)
        step = self.batch_size
        return [indices[start:start + step] for indices in groups.values() for start in range(0, len(indices), step)]

    def prepare(self, images: Sequence[DecodedImage], pictures: Sequence[Picture] | None = None) -> PreparedBatch:
        # NCHW float in [0, 1], each resized image scaled straight into its window (no uint8 canvas in between)
        sources: list[Resizable] = ([picture.window() for picture in pictures] if pictures is not None
                                    else [image.rgb for image in images])
        tensor, placements = letterbox_tensor(sources, self.input_size, self._input_dtype(), 1 / 255,
                                              threads=self._settings.ort_threads_per_session)
        return PreparedBatch(tensor, placements, [image.scale for image in images])

    def infer(self, tensor: np.ndarray) -> np.ndarray:
        """The raw model output for a prepared batch: (N, 4 + classes, anchors), boxes as cx, cy, w, h."""
        input_name = self._model.session.get_inputs()[0].name
        (output,) = self._model.run({input_name: tensor})
        return np.asarray(output, dtype=np.float32)

    def postprocess(self, output: np.ndarray, prepared: PreparedBatch) -> list[list[Detection]]:
        # best class and its score of every anchor of every image at once (reductions along contiguous rows)
        class_scores = output[:, 4:, :]
        class_ids = class_scores.argmax(axis=1)
        scores = np.take_along_axis(class_scores, class_ids[:, None, :], axis=1)[:, 0]
        return [
            self._decode_one(output[i, :4], class_ids[i], scores[i], placement, scale)
            for i, (placement, scale) in enumerate(zip(prepared.placements, prepared.scales, strict=True))
        ]

    def _decode_one(self, xywh: np.ndarray, class_ids: np.ndarray, scores: np.ndarray, placement: Placement,
                    scale: float) -> list[Detection]:
        """One image: xywh (4, anchors), best class and score per anchor -> its detections after NMS."""
        candidates = np.flatnonzero(scores > self.conf)
        if candidates.size > MAX_NMS_CANDIDATES:
            candidates = candidates[np.argsort(-scores[candidates])[:MAX_NMS_CANDIDATES]]
        boxes = xywh_to_xyxy(xywh[:, candidates].T.astype(np.float64))
        keep = class_aware_nms(boxes, scores[candidates], class_ids[candidates], self.iou)[:MAX_DETECTIONS]
        image_boxes = to_image_boxes(boxes[keep], placement) * scale
        return [
            Detection(
                label=GARMENT_LABELS[int(class_ids[candidates[k]])],
                class_id=int(class_ids[candidates[k]]),
                score=float(scores[candidates[k]]),
                box=(float(b[0]), float(b[1]), float(b[2]), float(b[3])),
            )
            for k, b in zip(keep, image_boxes, strict=True)
        ]

    def _input_dtype(self) -> type[np.floating]:
        kind = self._model.session.get_inputs()[0].type
        return np.float16 if kind == "tensor(float16)" else np.float32

    def _check_model(self) -> None:
        """The model's class names must be ours, in our order: a wrong model fails loudly, once."""
        if self._checked:
            return
        names = self._model.metadata.get("names")
        if names is not None:
            parsed = ast.literal_eval(names)
            found = tuple(parsed[i] for i in sorted(parsed))
            if found != GARMENT_LABELS:
                raise ModelNotAvailableError(f"{self.path} detects {found}, expected {GARMENT_LABELS}")
        outputs = self._model.session.get_outputs()[0].shape
        if len(outputs) != 3 or outputs[1] != 4 + len(GARMENT_LABELS):
            raise ModelNotAvailableError(f"{self.path} output shape {outputs} is not (N, 14, anchors)")
        self._checked = True
