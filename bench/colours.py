"""Dominant colours: the batched numpy clustering vs the previous per-crop scikit-learn k-means, speed and accuracy.

    python bench/colours.py [--catalog ../shared/data/hm-catalog] [--split test] [--items 400] [--batch 16]

Accuracy: the top colour's family vs H&M `perceived_colour_master_name` on held-out product shots (split by
product group, as everywhere in this project), next to the majority-class baseline and to the previous
implementation (kept here, verbatim in behaviour, as the reference). Speed: the same crops, the reference one crop
at a time, the batched version `--batch` crops per call; rounds interleave the two.
"""

from __future__ import annotations

import argparse
import os
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from pixels2posts.catalog.reader import read_hm_articles, split_of
from shared.images import load_image
from shared.palette import FAMILY_OF, ciede2000, lab_to_rgb, name_lab, rgb_to_lab
from shared.schemas import Colour
from shared.settings import REPO_ROOT
from workers.vision.colours import (
    BACKGROUND_DELTA_E,
    BORDER_FRACTION,
    CLUSTERS,
    GRID,
    MIN_FOREGROUND,
    MIN_SHARE,
    dominant_colours_batch,
    skin_mask,
)

CATALOG = REPO_ROOT.parent / "shared" / "data" / "hm-catalog"
REFERENCE_MAX_PIXELS = 4000


def _reference_border(lab: np.ndarray) -> np.ndarray:
    height, width = lab.shape[:2]
    band = max(1, round(min(height, width) * BORDER_FRACTION))
    frame = np.concatenate([lab[:band].reshape(-1, 3), lab[-band:].reshape(-1, 3),
                            lab[:, :band].reshape(-1, 3), lab[:, -band:].reshape(-1, 3)])
    bins = np.round(frame / np.array([6.0, 8.0, 8.0])).astype(np.int32)
    keys, counts = np.unique(bins, axis=0, return_counts=True)
    frequent = keys[counts >= max(3, 0.04 * len(frame))] * np.array([6.0, 8.0, 8.0])
    if len(frequent) == 0:
        return np.zeros((height, width), bool)
    flat = lab.reshape(-1, 3)
    near = np.zeros(len(flat), bool)
    for colour in frequent[:8]:
        near |= ciede2000(flat, colour[None, :]) < BACKGROUND_DELTA_E
    return near.reshape(height, width)


def reference_colours(crop: np.ndarray, seed: int = 0) -> list[Colour]:
    """The previous implementation: per crop, CIEDE2000 border model, scikit-learn KMeans (n_init=2)."""
    from sklearn.cluster import KMeans

    step = max(1, int(np.ceil(max(crop.shape[:2]) / 96)))
    rgb = crop[::step, ::step]
    lab = rgb_to_lab(rgb)
    mask = ~_reference_border(lab)
    skin = skin_mask(rgb)
    if mask.any() and (mask & skin).sum() < 0.5 * mask.sum():
        mask &= ~skin
    if mask.mean() < MIN_FOREGROUND:
        height, width = mask.shape
        mask = np.zeros_like(mask)
        mask[height // 4: height - height // 4, width // 4: width - width // 4] = True
    pixels = lab[mask]
    if len(pixels) > REFERENCE_MAX_PIXELS:
        pixels = pixels[np.random.default_rng(seed).choice(len(pixels), REFERENCE_MAX_PIXELS, replace=False)]
    k = min(CLUSTERS, len(np.unique(np.round(pixels), axis=0)))
    if k == 0:
        return []
    km = KMeans(n_clusters=k, n_init=2, random_state=seed).fit(pixels)
    shares = np.bincount(km.labels_, minlength=k) / len(pixels)
    merged: dict[str, tuple[float, np.ndarray]] = {}
    for name, share, centre in zip(name_lab(km.cluster_centers_), shares, km.cluster_centers_, strict=True):
        total, weighted = merged.get(name, (0.0, np.zeros(3)))
        merged[name] = (total + float(share), weighted + share * centre)
    colours = [Colour(name=name, rgb=tuple(int(v) for v in lab_to_rgb(weighted / total)), share=round(total, 3))
               for name, (total, weighted) in merged.items() if total >= MIN_SHARE]
    return sorted(colours, key=lambda c: -c.share)


def batched(crops: Sequence[np.ndarray], batch: int) -> list[list[Colour]]:
    out: list[list[Colour]] = []
    for start in range(0, len(crops), batch):
        out += dominant_colours_batch(crops[start:start + batch])
    return out


def family(colours: list[Colour]) -> str | None:
    return FAMILY_OF[colours[0].name] if colours else None


def timed(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--catalog", type=Path, default=CATALOG)
    parser.add_argument("--split", default="test", choices=["train", "test"])
    parser.add_argument("--items", type=int, default=400)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--timed-crops", type=int, default=64)
    args = parser.parse_args(argv)
    items = [i for i in read_hm_articles(args.catalog) if split_of(i.group) == args.split and i.colour][: args.items]
    crops = [load_image(i.image).rgb for i in items]
    truth = [i.colour for i in items]
    reference = [family(reference_colours(c)) for c in crops]
    new = [family(found) for found in batched(crops, args.batch)]
    majority, _ = Counter(truth).most_common(1)[0]
    timed_crops = crops[: args.timed_crops]
    best = [float("inf"), float("inf")]
    for round_index in range(args.repeats + 1):
        for slot, work in enumerate((lambda: [reference_colours(c) for c in timed_crops],
                                     lambda: batched(timed_crops, args.batch))):
            seconds = timed(work)
            if round_index:
                best[slot] = min(best[slot], seconds)
    n = len(items)
    print(f"# H&M {args.split} split, {n} product shots with a master colour; timing on {len(timed_crops)} of them "
          f"({np.mean([c.shape[0] for c in timed_crops]):.0f} px high on average), batch {args.batch}; "
          f"load average {' '.join(f'{v:.1f}' for v in os.getloadavg())}\n")
    print("| method | top-colour family accuracy | ms / crop | speed-up |")
    print("|---|---:|---:|---:|")
    print(f"| majority class ('{majority}') | {np.mean([t == majority for t in truth]):.3f} | | |")
    rows = (("previous: per crop, CIEDE2000 border, scikit-learn k-means", reference, best[0]),
            (f"batched numpy (GRID {GRID}, CIE94 border, {args.batch} crops per call)", new, best[1]))
    for name, found, seconds in rows:
        accuracy = np.mean([f == t for f, t in zip(found, truth, strict=True)])
        print(f"| {name} | {accuracy:.3f} | {1000 * seconds / len(timed_crops):.2f} | {best[0] / seconds:.1f}x |")
    agree = np.mean([a == b for a, b in zip(reference, new, strict=True)])
    print(f"\nthe two agree on the top colour's family for {agree:.3f} of the shots")


if __name__ == "__main__":
    main()
