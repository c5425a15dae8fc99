"""Compiled kernels (numba) for the vision stage's CPU work between the models, and the decorator that builds them.

numba comes with the `cpu` and `gpu` extras, so every vision worker has it. Importing the stage's modules must not
need it (schemas, the API), so without numba `NUMBA` is False and callers keep their numpy paths, which compute the
same values (tests/workers/vision/test_compiled.py, test_resize.py).

Each kernel repeats its numpy reference operation by operation, in the same float types and the same order, so
the results are equal to the last bit: no fast-math, and no fused multiply-add (numba does not contract them).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

try:
    import numba
except ImportError:  # pragma: no cover - exercised only where numba is not installed
    numba = None  # type: ignore[assignment]

NUMBA = numba is not None


def jit(function: Callable[..., Any]) -> Callable[..., Any]:
    """Compiled without the GIL (the batch runners' threads run kernels at once), cached on disk where numba can
    write (NUMBA_CACHE_DIR; the images set /tmp under their read-only root), else compiled in each process."""
    if numba is None:
        return function
    try:
        return numba.njit(nogil=True, cache=True)(function)
    except RuntimeError:  # no writable cache location
        return numba.njit(nogil=True)(function)


@jit
def nearest_centres(planes: np.ndarray, centres: np.ndarray, labels: np.ndarray, best: np.ndarray) -> None:
    """colours._nearest (and, with one set of the palette's colours, colour_model._nearest_palette): for planes
    (3, M, P) float32 and centres (M, K, 3) float32, the index of the nearest centre (the first of equals, as argmin
    for finite values) into labels (M, P) and its squared distance, summed over channels 0, 1, 2 in that order in
    float32, into best (M, P)."""
    for m in range(planes.shape[1]):
        for p in range(planes.shape[2]):
            x0, x1, x2 = planes[0, m, p], planes[1, m, p], planes[2, m, p]
            closest = np.float32(0.0)
            label = 0
            for k in range(centres.shape[1]):
                d0 = x0 - centres[m, k, 0]
                d1 = x1 - centres[m, k, 1]
                d2 = x2 - centres[m, k, 2]
                distance = d0 * d0
                distance += d1 * d1
                distance += d2 * d2
                if k == 0 or distance < closest:
                    closest = distance
                    label = k
            labels[m, p] = label
            best[m, p] = closest


@jit
def cluster_sums(planes: np.ndarray, labels: np.ndarray, weights: np.ndarray, sizes: np.ndarray,
                 sums: np.ndarray) -> None:
    """colours._cluster_sums: per set and cluster the weight total (float64, accumulated in point order as numpy's
    bincount does) into sizes (M, K) and the sums of float32 products coordinate x weight into sums (M, K, 3)."""
    sizes[:] = 0.0
    sums[:] = 0.0
    for m in range(labels.shape[0]):
        for p in range(labels.shape[1]):
            k = labels[m, p]
            weight = weights[m, p]
            sizes[m, k] += np.float64(weight)
            for d in range(3):
                sums[m, k, d] += np.float64(planes[d, m, p] * weight)


def warm_up_kernels() -> None:
    """Compile, or load from numba's cache, every kernel for each array type the pipeline passes it, before the
    first job: decoded images are read-only, and a read-only array compiles apart from a writable one, so the
    first batches would otherwise pay about a second each of compiling (measured in the worker bench). The images'
    cache lives in /tmp, so each new container compiles once, at its start."""
    if not NUMBA:
        return
    from workers.vision import flat_search
    from workers.vision.colour_model import colour_features
    from workers.vision.colours import cluster_batch
    from workers.vision.index import faiss_module
    from workers.vision.resize import Picture, resize_bilinear, resize_to_planes, write_planes

    decoded = np.zeros((40, 30, 3), np.uint8)
    decoded.setflags(write=False)
    ones, zeros = np.ones(3, np.float32), np.zeros(3, np.float32)
    for rgb in (decoded, decoded.copy()):
        write_planes(rgb, np.empty((3, 40, 30), np.float32), ones, zeros)
        write_planes(rgb, np.empty((3, 48, 36), np.float32)[:, 4:44, 3:33], ones, zeros)  # a window of a batch
        write_planes(rgb[2:38, 3:27], np.empty((3, 36, 24), np.float32), ones, zeros)  # a centre crop's view
        for width, height in ((60, 80), (15, 20), (30, 10)):  # upscale, downscale, the vertical pass first
            write_planes(resize_bilinear(rgb, width, height), np.empty((3, height, width), np.float32), ones, zeros)
        for width, height in ((60, 80), (30, 80), (15, 20), (30, 10)):  # ... and the vertical pass alone
            planes = np.empty((3, height + 4, width + 2), np.float32)
            resize_to_planes(rgb, planes, 2, 1, height, width, ones, zeros)
            resize_to_planes(Picture(rgb).window(2, 3, 30, 20), planes, 2, 1, height, width, ones, zeros)  # a crop
        colour_features(cluster_batch([rgb, rgb[5:30, 3:20]]))
    try:
        faiss = faiss_module()
    except ImportError:  # pragma: no cover - faiss comes with the same extras as numba
        return
    flat_search.warm_up(faiss)
