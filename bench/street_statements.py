"""What the evidence pack states about street photos, against their ground-truth boxes (Colorful Fashion).

    python bench/street_statements.py [--data ../shared/data/colorful-fashion] [--split test] [--count 150]

Street photos have box labels but no colour or product truth, so this scores only the garments a pack states: one is
right when it overlaps a ground-truth box of its class at IoU >= 0.5 (a whole-image garment, with no box of its own,
counts as right when the photo has a box of its class). Prints the stated garments, the share of them that are
right, and the share of ground-truth boxes some stated garment found. Run it with the settings to compare in the
environment (e.g. `P2P_GATE_SCENE_GARMENT=0.97`), one run each.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from pixels2posts.evaluation.detector_eval import image_paths, read_labels, split_folder
from shared.images import load_image
from shared.schemas import EvidencePack
from shared.settings import REPO_ROOT, get_settings
from workers.vision.nms import iou_matrix
from workers.vision.pipeline import VisionPipeline

IOU = 0.5


def score(pack: EvidencePack, boxes: np.ndarray, labels: list[str]) -> tuple[int, int, int]:
    """(stated, stated right, ground-truth boxes found)."""
    right, found = 0, np.zeros(len(labels), dtype=bool)
    for garment in pack.garments:
        same = np.array([label == garment.label for label in labels], dtype=bool)
        if garment.source == "image" and garment.box[0] == 0 and garment.box[1] == 0:
            right += int(same.any())
            continue
        hits = same & (iou_matrix(np.array([garment.box]), boxes)[0] >= IOU) if len(labels) else same
        right += int(hits.any())
        found |= hits
    return len(pack.garments), right, int(found.sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=REPO_ROOT.parent / "shared" / "data" / "colorful-fashion")
    parser.add_argument("--split", default="test")
    parser.add_argument("--count", type=int, default=150)
    args = parser.parse_args()
    pipeline = VisionPipeline(get_settings())
    folder = split_folder(args.data, args.split)
    stated = right = found = truth = 0
    backdrops: dict[str, int] = {}
    for path in image_paths(folder, args.count):
        image = load_image(path, min_side=pipeline.min_side)
        pack = pipeline.evidence(image)
        boxes, classes = read_labels(folder / "labels" / f"{path.stem}.txt", image.width, image.height)
        labels = [pipeline.detector.labels[int(c)] for c in classes]
        counts = score(pack, boxes, labels)
        stated, right, found, truth = stated + counts[0], right + counts[1], found + counts[2], truth + len(labels)
        backdrops[str(pack.backdrop)] = backdrops.get(str(pack.backdrop), 0) + 1
    print(f"# {args.count} photos of {folder}; backdrops {backdrops}")
    print("| stated garments | right (of stated) | ground-truth boxes | found (of boxes) |\n|---:|---:|---:|---:|")
    print(f"| {stated} | {right / max(stated, 1):.3f} | {truth} | {found / max(truth, 1):.3f} |")


if __name__ == "__main__":
    main()
