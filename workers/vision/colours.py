"""Dominant colours of garments: foreground pixels of each box, k-means in CIELAB, named by CIEDE2000.

All crops of a batch are handled together, in numpy, without a Python loop per pixel or per k-means step: each
crop is sampled on the same small grid (GRID x GRID pixels, each standing for an equal share of the crop's area),
so the crops stack into one array; the foreground masks, the k-means (a fixed number of Lloyd iterations from a
seeded k-means++ start, two starts, the better kept) and the naming run over the whole stack at once.

Foreground: a person mask when one is given (DeepLabV3 via `PersonMasker`), intersected with our own background
model: colours of the box's border frame are background (the box is loose around the garment, so its border is
mostly what surrounds it). Skin-tone pixels are dropped too, unless most of the foreground is skin-toned (then the
garment itself is beige/pink/brown and must keep its pixels).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from shared.palette import lab_to_rgb, name_lab
from shared.schemas import Colour
from workers.vision.compiled import NUMBA, cluster_sums, nearest_centres

GRID = 24                  # each crop is sampled on GRID x GRID points (576: shares to ~0.2%)
BORDER_FRACTION = 0.06     # width of the frame that models the background
BACKGROUND_DELTA_E = 7.0   # a pixel this close (CIE94) to a frequent border colour is background
BORDER_COLOURS = 8         # most frequent border colours tested per crop
MIN_FOREGROUND = 0.08      # below this foreground share the mask is not trusted
MIN_SHARE = 0.12           # colours with a smaller share are not reported
CLUSTERS = 4
LLOYD_ITERATIONS = 10      # fixed: the stacked k-means has no per-crop convergence test
STARTS = 1                 # k-means++ starts per crop (the lower inertia wins); more did not help on train

# border colours are counted in bins of this size (L, a, b)
_BIN = np.array([6.0, 8.0, 8.0], np.float32)
_BIN_OFFSET, _BIN_SPAN_L, _BIN_SPAN_AB = 16, 18, 33
_BIN_CODES = _BIN_SPAN_L * _BIN_SPAN_AB * _BIN_SPAN_AB
_D65 = np.array([0.95047, 1.0, 1.08883], np.float32)
_RGB_TO_XYZ = np.array([[0.4124564, 0.3575761, 0.1804375],
                        [0.2126729, 0.7151522, 0.0721750],
                        [0.0193339, 0.1191920, 0.9503041]], np.float32)
_channel = np.arange(256, dtype=np.float64) / 255.0
_LINEAR = np.where(_channel <= 0.04045, _channel / 12.92, ((_channel + 0.055) / 1.055) ** 2.4).astype(np.float32)


def skin_mask(rgb: np.ndarray) -> np.ndarray:
    """Skin-toned pixels by a YCrCb box rule (robust across skin tones in the usual ranges)."""
    c = rgb.astype(np.float32)
    y = 0.299 * c[..., 0] + 0.587 * c[..., 1] + 0.114 * c[..., 2]
    cr = (c[..., 0] - y) * 0.713 + 128
    cb = (c[..., 2] - y) * 0.564 + 128
    return (cr > 138) & (cr < 173) & (cb > 77) & (cb < 127) & (y > 60)


def lab_of(rgb: np.ndarray) -> np.ndarray:
    """uint8 sRGB [..., 3] -> CIELAB (D65) float32 [..., 3], through a 256-entry linearisation table."""
    xyz = _LINEAR[rgb] @ (_RGB_TO_XYZ.T / _D65)
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], -1)


def cie94(lab1: np.ndarray, lab2: np.ndarray) -> np.ndarray:
    """CIE94 colour difference (graphic arts weights), broadcasting; no trigonometry, so cheap per pixel.

    For the small differences the background test asks about it agrees with CIEDE2000 to about one unit."""
    dl = lab1[..., 0] - lab2[..., 0]
    c1 = np.hypot(lab1[..., 1], lab1[..., 2])
    dc = c1 - np.hypot(lab2[..., 1], lab2[..., 2])
    da, db = lab1[..., 1] - lab2[..., 1], lab1[..., 2] - lab2[..., 2]
    dh2 = np.maximum(da * da + db * db - dc * dc, 0)
    return np.sqrt(dl * dl + (dc / (1 + 0.045 * c1)) ** 2 + dh2 / (1 + 0.015 * c1) ** 2)


def sample_grid(crop: np.ndarray, grid: int = GRID) -> np.ndarray:
    """A grid x grid nearest-neighbour sample of an HxWxC crop (every point stands for the same area)."""
    height, width = crop.shape[:2]
    rows = ((np.arange(grid) + 0.5) * height / grid).astype(np.intp)
    cols = ((np.arange(grid) + 0.5) * width / grid).astype(np.intp)
    return crop[rows[:, None], cols[None, :]]


def _frame(shapes: np.ndarray, grid: int) -> np.ndarray:
    """(N, grid, grid) True on each crop's border band: BORDER_FRACTION of its short side, in grid units."""
    band_px = np.maximum(1, np.round(shapes.min(1) * BORDER_FRACTION))
    band_rows = np.maximum(1, np.round(band_px * grid / shapes[:, 0]))[:, None, None]
    band_cols = np.maximum(1, np.round(band_px * grid / shapes[:, 1]))[:, None, None]
    index = np.arange(grid)
    rows, cols = index[None, :, None], index[None, None, :]
    return (rows < band_rows) | (rows >= grid - band_rows) | (cols < band_cols) | (cols >= grid - band_cols)


def _bin_centres(codes: np.ndarray) -> np.ndarray:
    """Lab centres [..., 3] of border-colour bin codes (float64, as the codes are int64)."""
    return np.stack([codes // (_BIN_SPAN_AB * _BIN_SPAN_AB),
                     codes // _BIN_SPAN_AB % _BIN_SPAN_AB - _BIN_OFFSET,
                     codes % _BIN_SPAN_AB - _BIN_OFFSET], -1) * _BIN


def _frequent_bins(keys: np.ndarray, n: int, needed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(crop, bin code) of the border colours each crop tests: of its BORDER_COLOURS most frequent frame bins,
    those with at least `needed` pixels. keys: crop * _BIN_CODES + code of every frame pixel.

    When at most BORDER_COLOURS bins of a crop reach `needed`, they are its frequent ones whichever way ties among
    the most frequent are broken, so they are found from the frame's distinct keys (a few hundred) rather than by
    counting and partitioning all N x _BIN_CODES bins; a crop with more takes the full count and partition, which
    picks the same bins as counting the whole batch did (rows are partitioned one by one)."""
    distinct, counts = np.unique(keys, return_counts=True)   # sorted: grouped by crop
    crop = distinct // _BIN_CODES
    enough = counts >= needed[crop]
    many = np.flatnonzero(np.bincount(crop[enough], minlength=n) > BORDER_COLOURS)
    keep = enough & ~np.isin(crop, many)
    crop_of, codes = crop[keep], distinct[keep] % _BIN_CODES
    if len(many):
        rows = np.searchsorted(many, keys // _BIN_CODES)
        mine = (rows < len(many)) & (many[np.minimum(rows, len(many) - 1)] == keys // _BIN_CODES)
        full = np.bincount(rows[mine] * _BIN_CODES + keys[mine] % _BIN_CODES,
                           minlength=len(many) * _BIN_CODES).reshape(len(many), _BIN_CODES)
        top = np.argpartition(-full, BORDER_COLOURS, axis=1)[:, :BORDER_COLOURS]
        row, slot = np.nonzero(np.take_along_axis(full, top, 1) >= needed[many][:, None])
        crop_of, codes = np.concatenate([crop_of, many[row]]), np.concatenate([codes, top[row, slot]])
        order = np.argsort(crop_of, kind="stable")
        crop_of, codes = crop_of[order], codes[order]
    return crop_of, codes


def border_background(lab: np.ndarray, frame: np.ndarray) -> np.ndarray:
    """(N, P) True where a pixel matches one of the frequent colours of its crop's border frame.

    lab: (N, P, 3); frame: (N, P). The frame's colours are binned and the most frequent bins kept."""
    n, p = frame.shape
    bins = np.round(lab / _BIN).astype(np.int32)
    codes = ((bins[..., 0].clip(0, _BIN_SPAN_L - 1) * _BIN_SPAN_AB
              + (bins[..., 1] + _BIN_OFFSET).clip(0, _BIN_SPAN_AB - 1)) * _BIN_SPAN_AB
             + (bins[..., 2] + _BIN_OFFSET).clip(0, _BIN_SPAN_AB - 1))
    keys = codes + (np.arange(n) * _BIN_CODES)[:, None]
    needed = np.maximum(3, 0.04 * frame.sum(1))
    crop_of, frequent = _frequent_bins(keys[frame].astype(np.int64), n, needed)  # grouped by crop
    near = np.zeros((n, p), bool)
    if len(crop_of):
        close = cie94(lab[crop_of], _bin_centres(frequent)[:, None, :]) < BACKGROUND_DELTA_E     # (V, P)
        crops, starts = np.unique(crop_of, return_index=True)
        near[crops] = np.logical_or.reduceat(close, starts, axis=0)
    return near


def foreground_masks(rgb: np.ndarray, lab: np.ndarray, frame: np.ndarray, person: np.ndarray) -> np.ndarray:
    """(N, P) foreground of each crop; rgb/lab (N, P, 3), frame/person (N, P) (person all True when unknown)."""
    mask = ~border_background(lab, frame)
    trust_person = (mask & person).mean(1) >= MIN_FOREGROUND
    mask &= person | ~trust_person[:, None]
    skin = skin_mask(rgb)
    mostly_other = (mask & skin).sum(1) < 0.5 * mask.sum(1)
    mask &= ~skin | ~(mostly_other & mask.any(1))[:, None]
    grid = math.isqrt(mask.shape[1])
    centre = np.zeros((grid, grid), bool)
    centre[grid // 4: grid - grid // 4, grid // 4: grid - grid // 4] = True
    # the garment blends with its background (white on white): trust the centre of the box instead
    blended = mask.mean(1) < MIN_FOREGROUND
    return np.where(blended[:, None], centre.reshape(1, -1), mask)


def _kmeans_pp(points: np.ndarray, weights: np.ndarray, draws: np.ndarray) -> np.ndarray:
    """(M, K, 3) k-means++ starting centres for M point sets at once (weights 0 exclude a point).

    draws (M, K): the uniform numbers that pick each centre; the same for every crop (per start), so that a
    crop's colours never depend on which other crops share its batch."""
    m, count = weights.shape
    centres = np.empty((m, CLUSTERS, 3), np.float32)
    planes = np.ascontiguousarray(points.transpose(2, 0, 1))
    chance = weights.astype(np.float64)
    nearest = np.full(weights.shape, np.inf, np.float32)
    fallback = np.cumsum(weights, 1, dtype=np.float64)
    for k in range(CLUSTERS):
        cumulative = np.cumsum(chance, 1)
        # where every point already is a centre (one colour), any allowed point will do
        cumulative = np.where(cumulative[:, -1:] > 0, cumulative, fallback)
        pick = (cumulative <= draws[:, k:k + 1] * cumulative[:, -1:]).sum(1).clip(0, count - 1)
        centres[:, k] = points[np.arange(m), pick]
        distance = sum((plane - centres[:, k, d:d + 1]) ** 2 for d, plane in enumerate(planes))
        nearest = np.minimum(nearest, distance)
        chance = nearest * weights
    return centres


def _nearest(planes: np.ndarray, centres: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index of and squared distance to the nearest centre: planes (3, M, P), centres (M, K, 3); compiled where
    numba is (workers.vision.compiled: the same values as the numpy reference)."""
    if not NUMBA or planes.dtype != np.float32:  # the kernel's arithmetic is the reference's only in float32
        return _nearest_numpy(planes, centres)
    labels = np.empty(planes.shape[1:], np.intp)
    closest = np.empty(planes.shape[1:], np.float32)
    nearest_centres(planes, np.ascontiguousarray(centres, np.float32), labels, closest)
    return labels, closest


def _nearest_numpy(planes: np.ndarray, centres: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """_nearest in numpy: planes channel-first, so every step is a contiguous elementwise pass."""
    best = np.empty(planes.shape[1:], np.float32)
    labels = np.zeros(planes.shape[1:], np.intp)
    distance = np.empty_like(best)
    step = np.empty_like(best)
    for k in range(centres.shape[1]):  # K passes over all sets at once (argmin over a length-4 axis is slow)
        np.subtract(planes[0], centres[:, k, 0:1], out=distance)
        np.square(distance, out=distance)
        for d in (1, 2):
            np.subtract(planes[d], centres[:, k, d:d + 1], out=step)
            distance += np.square(step, out=step)
        if k == 0:
            best[...] = distance
            continue
        closer = distance < best
        np.copyto(best, distance, where=closer)
        labels[closer] = k
    return labels, best


def _cluster_sums(planes: np.ndarray, labels: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per set and cluster: weight total (M, K) and weighted coordinate sums (M, K, 3); compiled where numba is
    (the same sums in the same order as the bincount reference)."""
    if not NUMBA or planes.dtype != np.float32 or weights.dtype != np.float32:
        return _cluster_sums_numpy(planes, labels, weights)
    sizes, sums = np.empty((labels.shape[0], CLUSTERS)), np.empty((labels.shape[0], CLUSTERS, 3))
    cluster_sums(planes, labels, weights, sizes, sums)
    return sizes, sums


def _cluster_sums_numpy(planes: np.ndarray, labels: np.ndarray,
                        weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    m = labels.shape[0]
    keys = (labels + (np.arange(m) * CLUSTERS)[:, None]).ravel()
    flat_weights = weights.ravel()
    sizes = np.bincount(keys, flat_weights, m * CLUSTERS).reshape(m, CLUSTERS)
    sums = np.stack([np.bincount(keys, (plane * weights).ravel(), m * CLUSTERS) for plane in planes], -1)
    return sizes, sums.reshape(m, CLUSTERS, 3)


def kmeans(points: np.ndarray, mask: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Masked k-means of N point sets at once: points (N, P, 3), mask (N, P) -> centres (N, K, 3), shares (N, K).

    STARTS seeded k-means++ starts per set, LLOYD_ITERATIONS Lloyd steps each, the lower inertia kept. A cluster
    left empty keeps its centre with share 0 (a set with fewer than K distinct colours)."""
    n = len(points)
    stacked = np.repeat(points, STARTS, axis=0)
    planes = np.ascontiguousarray(stacked.transpose(2, 0, 1))
    weights = np.repeat(mask, STARTS, axis=0).astype(np.float32)
    draws = np.tile(np.random.default_rng(seed).random((STARTS, CLUSTERS)), (n, 1))
    centres = _kmeans_pp(stacked, weights, draws)
    for _ in range(LLOYD_ITERATIONS):
        labels, _ = _nearest(planes, centres)
        sizes, sums = _cluster_sums(planes, labels, weights)
        centres = np.where(sizes[..., None] > 0, sums / np.maximum(sizes, 1e-9)[..., None], centres)
        centres = centres.astype(np.float32)
    labels, distances = _nearest(planes, centres)
    inertia = (distances * weights).sum(1).reshape(n, STARTS)
    best = inertia.argmin(1) + np.arange(n) * STARTS
    sizes, _ = _cluster_sums(planes[:, best], labels[best], weights[best])
    shares = sizes / np.maximum(sizes.sum(1, keepdims=True), 1)
    return centres[best], shares


def _named(names: Sequence[str], shares: np.ndarray, centres: np.ndarray) -> list[tuple[str, float, np.ndarray]]:
    """One crop's clusters merged by name: (name, share, share-weighted Lab centre), small ones dropped, largest
    first."""
    merged: dict[str, tuple[float, np.ndarray]] = {}
    for name, share, centre in zip(names, shares.tolist(), centres, strict=True):
        total, weighted = merged.get(name, (0.0, np.zeros(3)))
        merged[name] = (total + share, weighted + share * centre)
    kept = [(name, total, weighted / total) for name, (total, weighted) in merged.items() if total >= MIN_SHARE]
    return sorted(kept, key=lambda found: -found[1])


@dataclass(frozen=True)
class ClusterStats:
    """What the clustering saw, per usable crop (rows in `usable` order): the grid samples, foreground, clusters."""

    usable: list[int]        # indices (into the crops given) of the crops with pixels
    rgb: np.ndarray          # (N, P, 3) uint8 grid samples
    lab: np.ndarray          # (N, P, 3) their CIELAB
    mask: np.ndarray         # (N, P) foreground
    centres: np.ndarray      # (N, K, 3) Lab cluster centres
    shares: np.ndarray       # (N, K) foreground share of each cluster


def cluster_batch(crops: Sequence[np.ndarray], persons: Sequence[np.ndarray | None] | None = None,
                  seed: int = 0) -> ClusterStats:
    """Grid-sample, mask and cluster every crop of a batch at once (see the module docstring)."""
    persons = persons if persons is not None else [None] * len(crops)
    usable = [i for i, crop in enumerate(crops) if crop.shape[0] > 0 and crop.shape[1] > 0]
    if not usable:
        empty = np.zeros((0, GRID * GRID), bool)
        return ClusterStats([], np.zeros((0, GRID * GRID, 3), np.uint8), np.zeros((0, GRID * GRID, 3), np.float32),
                            empty, np.zeros((0, CLUSTERS, 3), np.float32), np.zeros((0, CLUSTERS)))
    rgb = np.stack([sample_grid(crops[i], GRID) for i in usable]).reshape(len(usable), -1, 3)
    everywhere = np.ones((GRID, GRID), bool)
    person = np.stack([everywhere if (known := persons[i]) is None else sample_grid(known, GRID)
                       for i in usable]).reshape(len(usable), -1)
    shapes = np.array([crops[i].shape[:2] for i in usable], np.float64)
    lab = lab_of(rgb)
    mask = foreground_masks(rgb, lab, _frame(shapes, GRID).reshape(len(usable), -1), person)
    centres, shares = kmeans(lab, mask, seed)
    return ClusterStats(usable, rgb, lab, mask, centres, shares)


def name_clusters(stats: ClusterStats, count: int) -> list[list[Colour]]:
    """The palette-named colours of each crop (`count` crops; empty for unusable ones), largest share first."""
    results: list[list[Colour]] = [[] for _ in range(count)]
    if not stats.usable:
        return results
    names = name_lab(stats.centres.reshape(-1, 3).astype(np.float64))
    named = [_named(names[row * CLUSTERS:(row + 1) * CLUSTERS], stats.shares[row], stats.centres[row])
             for row in range(len(stats.usable))]
    found = [colour for crop in named for colour in crop]
    rgbs = lab_to_rgb(np.array([lab for _, _, lab in found])).tolist() if found else []
    position = 0
    for i, crop in zip(stats.usable, named, strict=True):
        # shares rounded down to 0.001, so that they still sum to <= 1
        results[i] = [Colour(name=name, rgb=tuple(rgbs[position + j]), share=math.floor(share * 1000 + 1e-9) / 1000)
                      for j, (name, share, _) in enumerate(crop)]
        position += len(crop)
    return results


def dominant_colours_batch(crops: Sequence[np.ndarray], persons: Sequence[np.ndarray | None] | None = None,
                           seed: int = 0) -> list[list[Colour]]:
    """Named dominant colours of each garment crop (HxWx3 uint8), largest share first; shares sum to <= 1.

    persons: an optional boolean person mask per crop (same height and width), None where there is none."""
    return name_clusters(cluster_batch(crops, persons, seed), len(crops))


def dominant_colours(crop: np.ndarray, person: np.ndarray | None = None, seed: int = 0) -> list[Colour]:
    """Named dominant colours of one garment crop (see `dominant_colours_batch`)."""
    return dominant_colours_batch([crop], [person], seed)[0]


class PersonMasker:
    """DeepLabV3-MobileNetV2 (PASCAL VOC) person mask from a TFLite file, run with ai-edge-litert on CPU."""

    PERSON = 15

    def __init__(self, path: Path) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self._interpreter = Interpreter(model_path=str(path))
        self._interpreter.allocate_tensors()
        self._input = self._interpreter.get_input_details()[0]
        self._output = self._interpreter.get_output_details()[0]
        self.size = int(self._input["shape"][1])

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        """Boolean HxW person mask of a whole image."""
        from PIL import Image

        height, width = rgb.shape[:2]
        resized = np.asarray(Image.fromarray(rgb).resize((self.size, self.size), Image.Resampling.BILINEAR))
        self._interpreter.set_tensor(self._input["index"], resized[None].astype(self._input["dtype"]))
        self._interpreter.invoke()
        classes = self._interpreter.get_tensor(self._output["index"])[0]
        if classes.ndim == 3:
            classes = classes.argmax(-1)
        mask = Image.fromarray((classes == self.PERSON).astype(np.uint8) * 255).resize((width, height))
        return np.asarray(mask) > 127
