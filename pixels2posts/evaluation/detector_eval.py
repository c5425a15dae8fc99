"""Evaluating the runtime detector on a YOLO-format folder (images/ + labels/): our path, not Ultralytics'."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from pixels2posts.evaluation.detection_metrics import DetectionMetrics, ImageResult, evaluate
from shared.images import load_image
from workers.vision.detector import Detection, GarmentDetector

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp"})
# Ultralytics' validator thresholds: mAP needs the whole confidence range
EVAL_CONF = 0.001
EVAL_IOU = 0.7


def split_folder(data: Path, split: str | None) -> Path:
    """`data` itself when it holds images/, else `data/split`."""
    if (data / "images").is_dir():
        return data
    if split and (data / split / "images").is_dir():
        return data / split
    raise FileNotFoundError(f"no images/ folder in {data} (nor in {data}/{split})")


def image_paths(folder: Path, limit: int | None = None) -> list[Path]:
    paths = sorted(p for p in (folder / "images").iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    return paths[:limit] if limit else paths


def read_labels(label_file: Path, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """YOLO label lines (class cx cy w h, normalised) -> (xyxy boxes in pixels, class ids)."""
    if not label_file.is_file():
        return np.zeros((0, 4)), np.zeros(0, dtype=np.int64)
    rows = [line.split() for line in label_file.read_text().splitlines() if line.strip()]
    values = np.array(rows, dtype=np.float64).reshape(-1, 5)
    cx, cy = values[:, 1] * width, values[:, 2] * height
    w, h = values[:, 3] * width, values[:, 4] * height
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    return boxes, values[:, 0].astype(np.int64)


def _chunks(paths: Sequence[Path], size: int) -> Iterator[Sequence[Path]]:
    for start in range(0, len(paths), size):
        yield paths[start : start + size]


def _as_arrays(detections: list[Detection]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    boxes = np.array([d.box for d in detections], dtype=np.float64).reshape(-1, 4)
    scores = np.array([d.score for d in detections], dtype=np.float64)
    classes = np.array([d.class_id for d in detections], dtype=np.int64)
    return boxes, scores, classes


def evaluate_folder(detector: GarmentDetector, folder: Path, limit: int | None = None) -> DetectionMetrics:
    """Run `detector` (batched) over `folder` and score it against the folder's labels."""
    results: list[ImageResult] = []
    paths = image_paths(folder, limit)
    for chunk in _chunks(paths, max(1, detector.batch_size)):
        images = [load_image(p) for p in chunk]
        for path, image, detections in zip(chunk, images, detector.detect_batch(images), strict=True):
            gt_boxes, gt_classes = read_labels(folder / "labels" / f"{path.stem}.txt", image.width, image.height)
            boxes, scores, classes = _as_arrays(detections)
            results.append(ImageResult(boxes, scores, classes, gt_boxes, gt_classes))
    return evaluate(results, num_classes=len(detector.labels))
