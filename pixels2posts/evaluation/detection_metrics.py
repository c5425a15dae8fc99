"""Detection metrics in numpy: mAP@0.5, mAP@0.5:0.95, per-class AP, precision and recall.

The same definitions as Ultralytics' validator (greedy one-to-one matching per IoU threshold, 101-point
interpolated AP, P/R at the confidence of best mean F1), so our numbers are comparable with theirs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from workers.vision.nms import iou_matrix

IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)
_trapezoid = getattr(np, "trapezoid", None) or getattr(np, "trapz")  # noqa: B009 (numpy < 2 has only trapz)


@dataclass(frozen=True)
class ImageResult:
    """One image's predictions (boxes xyxy, scores, class ids) and ground truth (boxes xyxy, class ids)."""

    pred_boxes: np.ndarray
    pred_scores: np.ndarray
    pred_classes: np.ndarray
    gt_boxes: np.ndarray
    gt_classes: np.ndarray


@dataclass(frozen=True)
class DetectionMetrics:
    map50: float
    map50_95: float
    precision: float
    recall: float
    ap50: dict[int, float] = field(default_factory=dict)  # per class id, classes with ground truth only
    ap50_95: dict[int, float] = field(default_factory=dict)
    class_precision: dict[int, float] = field(default_factory=dict)
    class_recall: dict[int, float] = field(default_factory=dict)
    instances: dict[int, int] = field(default_factory=dict)
    images: int = 0


def match_predictions(result: ImageResult) -> np.ndarray:
    """(n_pred, 10) bool: is each prediction a true positive at each IoU threshold (one GT per prediction)."""
    correct = np.zeros((len(result.pred_classes), len(IOU_THRESHOLDS)), dtype=bool)
    if not len(result.gt_classes) or not len(result.pred_classes):
        return correct
    iou = iou_matrix(result.gt_boxes, result.pred_boxes)
    iou = iou * (result.gt_classes[:, None] == result.pred_classes[None, :])
    for t, threshold in enumerate(IOU_THRESHOLDS):
        gt_idx, pred_idx = np.nonzero(iou >= threshold)
        if not gt_idx.size:
            continue
        pairs = np.stack([gt_idx, pred_idx, iou[gt_idx, pred_idx]], axis=1)
        pairs = pairs[pairs[:, 2].argsort()[::-1]]
        pairs = pairs[np.unique(pairs[:, 1], return_index=True)[1]]
        pairs = pairs[np.unique(pairs[:, 0], return_index=True)[1]]
        correct[pairs[:, 1].astype(int), t] = True
    return correct


def average_precision(recall: np.ndarray, precision: np.ndarray) -> float:
    """Area under the interpolated P-R curve, 101 recall points (COCO)."""
    mrec = np.concatenate(([0.0], recall, [1.0]))
    mpre = np.concatenate(([1.0], precision, [0.0]))
    mpre = np.flip(np.maximum.accumulate(np.flip(mpre)))
    grid = np.linspace(0, 1, 101)
    return float(_trapezoid(np.interp(grid, mrec, mpre), grid))


def evaluate(results: Sequence[ImageResult], num_classes: int) -> DetectionMetrics:
    correct = np.concatenate([match_predictions(r) for r in results]) if results else np.zeros((0, 10), bool)
    scores = np.concatenate([r.pred_scores for r in results]) if results else np.zeros(0)
    classes = np.concatenate([r.pred_classes for r in results]) if results else np.zeros(0, int)
    gt_classes = np.concatenate([r.gt_classes for r in results]) if results else np.zeros(0, int)
    order = np.argsort(-scores, kind="stable")
    correct, scores, classes = correct[order], scores[order], classes[order]

    grid = np.linspace(0, 1, 1000)
    present = [c for c in range(num_classes) if (gt_classes == c).any()]
    ap = np.zeros((len(present), len(IOU_THRESHOLDS)))
    p_curve = np.zeros((len(present), grid.size))
    r_curve = np.zeros((len(present), grid.size))
    for i, cls in enumerate(present):
        mine = classes == cls
        n_gt = int((gt_classes == cls).sum())
        if not mine.any():
            continue
        tp = np.cumsum(correct[mine], axis=0)
        fp = np.cumsum(~correct[mine], axis=0)
        recall = tp / (n_gt + 1e-16)
        precision = tp / (tp + fp)
        # curves against confidence (x decreasing), used for P/R at the best-F1 confidence
        r_curve[i] = np.interp(-grid, -scores[mine], recall[:, 0], left=0)
        p_curve[i] = np.interp(-grid, -scores[mine], precision[:, 0], left=1)
        for t in range(len(IOU_THRESHOLDS)):
            ap[i, t] = average_precision(recall[:, t], precision[:, t])
    f1 = 2 * p_curve * r_curve / (p_curve + r_curve + 1e-16)
    best = int(_smooth(f1.mean(0)).argmax()) if present else 0
    return DetectionMetrics(
        map50=float(ap[:, 0].mean()) if present else 0.0,
        map50_95=float(ap.mean()) if present else 0.0,
        precision=float(p_curve[:, best].mean()) if present else 0.0,
        recall=float(r_curve[:, best].mean()) if present else 0.0,
        ap50={c: float(ap[i, 0]) for i, c in enumerate(present)},
        ap50_95={c: float(ap[i].mean()) for i, c in enumerate(present)},
        class_precision={c: float(p_curve[i, best]) for i, c in enumerate(present)},
        class_recall={c: float(r_curve[i, best]) for i, c in enumerate(present)},
        instances={c: int((gt_classes == c).sum()) for c in present},
        images=len(results),
    )


def _smooth(values: np.ndarray, fraction: float = 0.1) -> np.ndarray:
    """Box filter over `fraction` of the points (Ultralytics smooths the F1 curve the same way)."""
    half = round(len(values) * fraction * 2) // 2 + 1
    padded = np.concatenate((np.full(half // 2, values[0]), values, np.full(half // 2, values[-1])))
    return np.convolve(padded, np.ones(half) / half, mode="valid")
