"""A learned colour namer with a confidence: which colour family a shopper would call a garment, or no answer.

Why: the nearest palette name of the largest k-means cluster agrees with H&M's master colour on only ~0.64 of
product shots. The errors are not the clustering but the naming: dark greens and khakis photograph as near-neutral
greys (a = -2..-10), white garments on white vanish into the background so that their grey shadows win, beiges read
white, prints and multipacks have no single dominant cluster. A tiny MLP on what the clustering already computes
(the sorted cluster centres and shares, the foreground's mean, palette histograms of the foreground and of the
unmasked centre) learns those regularities from H&M train products; its top probability is the confidence.

A colour is stated only when the MLP is confident (a threshold picked on a calibration fold for >= 0.95 precision)
**and** its name shares a family (the caption lexicon's colour families) with the plain k-means name. The MLP has
only seen product shots: on street crops (skin, other garments, busy backgrounds) it can be confidently wrong
("light pink" for a turquoise dress) where the k-means name is right; the agreement test keeps those out and costs
~6 points of answer rate on product shots.

Numpy only at runtime (the weights are an .npz written by `training/tower/colour.py`).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from shared.palette import PALETTE, PALETTE_LAB, ciede2000, lab_to_rgb
from shared.schemas import Colour
from workers.language.vocabulary import COLOUR_WORDS, words_of
from workers.vision.colours import ClusterStats, cluster_batch, name_clusters
from workers.vision.compiled import NUMBA, nearest_centres

_PALETTE_LAB32 = PALETTE_LAB.astype(np.float32)
_SCALE = 50.0  # Lab units -> roughly unit range for the MLP
# how fast a cluster's claim on a family fades with its CIEDE2000 distance to that family's palette colours
NAMING_FALLOFF = 10.0


def colour_features(stats: ClusterStats) -> np.ndarray:
    """(N, F) float32 features of each clustered crop; F = 4*5 + 3 + 1 + 2*len(PALETTE).

    The palette histograms are counts (by `bincount`) of each pixel's nearest palette colour, found by squared Lab
    distance accumulated channel by channel over a contiguous (pixels, palette) array: the same float32 sums as
    ((lab - palette) ** 2).sum(-1), so the same features the namer was trained on, without an (N, P, 37, 3)
    temporary and a one-hot (N, P, 37) array."""
    n = len(stats.usable)
    order = np.argsort(-stats.shares, 1, kind="stable")
    centres = np.take_along_axis(stats.centres, order[..., None], 1)
    shares = np.take_along_axis(stats.shares, order, 1)
    chroma = np.hypot(centres[..., 1], centres[..., 2])
    clusters = np.concatenate([centres / _SCALE, chroma[..., None] / _SCALE, shares[..., None]], -1).reshape(n, -1)
    weights = stats.mask.astype(np.float32)
    total = np.maximum(weights.sum(1, keepdims=True), 1)
    mean = (stats.lab * weights[..., None]).sum(1) / total
    pixels = stats.lab.shape[1]
    nearest = _nearest_palette(stats.lab.reshape(-1, 3)).reshape(n, pixels)                        # (N, P)
    palette = len(PALETTE)
    keys = nearest + (np.arange(n) * palette)[:, None]
    # the mask is 0/1, so these float32 sums are exact integers whatever the summation order
    foreground = np.bincount(keys[stats.mask], minlength=n * palette).reshape(n, palette).astype(np.float32) / total
    middle = (np.bincount(keys[:, _centre(pixels)].ravel(), minlength=n * palette).reshape(n, palette)
              .astype(np.float32) / np.float32(_centre(pixels).sum()))
    return np.concatenate([clusters, mean / _SCALE, weights.mean(1, keepdims=True), foreground, middle],
                          1).astype(np.float32)


def _nearest_palette(lab: np.ndarray) -> np.ndarray:
    """Index of the nearest palette colour (squared Lab distance, float32) of each row of an (M, 3) array; compiled
    where numba is (workers.vision.compiled: the same indices)."""
    if not NUMBA or lab.dtype != np.float32:
        return _nearest_palette_numpy(lab)
    labels = np.empty((1, len(lab)), np.intp)
    planes = np.ascontiguousarray(lab.T)[:, None, :]  # one set of M points, channel-first
    nearest_centres(planes, _PALETTE_LAB32[None], labels, np.empty((1, len(lab)), np.float32))
    return labels[0]


def _nearest_palette_numpy(lab: np.ndarray) -> np.ndarray:
    """_nearest_palette in numpy: the passes write into two reused buffers (fresh (M, 37) temporaries cost more than
    the arithmetic)."""
    distance = np.empty((len(lab), len(PALETTE)), np.float32)
    step = np.empty_like(distance)
    np.square(np.subtract(lab[:, 0:1], _PALETTE_LAB32[None, :, 0], out=distance), out=distance)
    for channel in (1, 2):
        distance += np.square(np.subtract(lab[:, channel:channel + 1], _PALETTE_LAB32[None, :, channel], out=step),
                              out=step)
    return distance.argmin(1)


def _centre(pixels: int) -> np.ndarray:
    """(pixels,) True on the middle half of the grid (rows and columns): unmasked, a white garment on white still
    shows there."""
    grid = math.isqrt(pixels)
    centre = np.zeros((grid, grid), bool)
    centre[grid // 4: grid - grid // 4, grid // 4: grid - grid // 4] = True
    return centre.ravel()


@functools.cache
def lexicon_families(name: str) -> frozenset[str]:
    """The caption lexicon's colour families of a colour name ("light grey" -> grey, "cream" -> white/beige)."""
    families: set[str] = set()
    for word in words_of(name):
        if word in COLOUR_WORDS:
            families |= COLOUR_WORDS[word][0]
    return frozenset(families)


def agree(name: str, other: str | None) -> bool:
    """Two colour names a caption reader would take for the same colour family."""
    return other is not None and bool(lexicon_families(name) & lexicon_families(other))


@dataclass(frozen=True)
class ColourReading:
    """One crop's colour: the stated colours (empty when abstaining), the family and its confidence."""

    colours: list[Colour]
    family: str | None
    confidence: float
    confident: bool


class ColourModel:
    """Standardise -> dense + ReLU -> dense + softmax over colour families (H&M perceived master colours)."""

    def __init__(self, path: Path) -> None:
        with np.load(path, allow_pickle=False) as data:
            self.mean, self.scale = data["mean"], data["scale"]
            self.w1, self.b1, self.w2, self.b2 = data["w1"], data["b1"], data["w2"], data["b2"]
            self.families: list[str] = [str(f) for f in data["families"]]
            self.threshold = float(data["threshold"])
            self.version = str(data["version"])
        self._names = [[i for i, c in enumerate(PALETTE) if c.family == family] for family in self.families]
        missing = [f for f, names in zip(self.families, self._names, strict=True) if not names]
        if missing:
            raise ValueError(f"{path}: families without a palette colour: {missing}")
        self._allowed = np.array([[i in names for i in range(len(PALETTE))] for names in self._names])  # (F, P)

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        hidden = np.maximum((features - self.mean) / self.scale @ self.w1 + self.b1, 0)
        logits = hidden @ self.w2 + self.b2
        logits -= logits.max(1, keepdims=True)
        exp = np.exp(logits)
        return exp / exp.sum(1, keepdims=True)

    def name(self, family: int, centres: np.ndarray, shares: np.ndarray) -> tuple[str, np.ndarray, float]:
        """The palette name for a family in one crop: the cluster that is large and close to the family, named by
        the family's nearest palette colour. Returns (name, Lab, share of that cluster)."""
        candidates = PALETTE_LAB[self._names[family]]
        distances = ciede2000(centres[:, None, :].astype(np.float64), candidates[None])          # (K, C)
        claim = shares * np.exp(-distances.min(1) / NAMING_FALLOFF)
        best = int(claim.argmax())
        colour = PALETTE[self._names[family][int(distances[best].argmin())]]
        return colour.name, centres[best], float(shares[best])

    def name_batch(self, families: np.ndarray, centres: np.ndarray,
                   shares: np.ndarray) -> tuple[list[str], np.ndarray, np.ndarray]:
        """`name` for N crops at once: families (N,), centres (N, K, 3), shares (N, K) -> names, Lab (N, 3) and
        shares (N,) of the named clusters. One CIEDE2000 pass against the whole palette (elementwise, so the same
        distances as per family); the other families' colours are masked out."""
        rows = np.arange(len(families))
        distances = ciede2000(centres[:, :, None, :].astype(np.float64), PALETTE_LAB[None, None])      # (N, K, P)
        allowed = self._allowed[families][:, None, :]
        distances = np.where(allowed, distances, np.inf)
        claim = shares * np.exp(-distances.min(2) / NAMING_FALLOFF)
        best = claim.argmax(1)
        colour = distances[rows, best].argmin(1)
        return [PALETTE[int(c)].name for c in colour], centres[rows, best], shares[rows, best]

    def read(self, stats: ClusterStats, count: int) -> list[ColourReading]:
        """A reading per crop (`count` crops; unusable ones abstain with confidence 0)."""
        readings = [ColourReading([], None, 0.0, False) for _ in range(count)]
        if not stats.usable:
            return readings
        probs = self.probabilities(colour_features(stats))
        plain = name_clusters(stats, count)
        families = probs.argmax(1)
        confidences = probs[np.arange(len(families)), families].tolist()
        names, labs, shares = self.name_batch(families, stats.centres, stats.shares)
        rgbs = lab_to_rgb(labs.astype(np.float64)).tolist()
        for row, i in enumerate(stats.usable):
            name, confidence, rgb = names[row], confidences[row], rgbs[row]
            colour = Colour(name=name, rgb=(rgb[0], rgb[1], rgb[2]),
                            share=math.floor(float(shares[row]) * 1000 + 1e-9) / 1000)
            confident = confidence >= self.threshold and agree(name, plain[i][0].name if plain[i] else None)
            readings[i] = ColourReading([colour], self.families[int(families[row])], round(confidence, 4), confident)
        return readings


def read_colours_batch(model: ColourModel, crops: Sequence[np.ndarray],
                       persons: Sequence[np.ndarray | None] | None = None, seed: int = 0) -> list[ColourReading]:
    """The learned colour reading of each garment crop (one batched clustering pass, as `dominant_colours_batch`)."""
    return model.read(cluster_batch(crops, persons, seed), len(crops))
