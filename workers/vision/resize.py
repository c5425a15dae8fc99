"""Pillow's bilinear resize of an RGB uint8 image, bit for bit, in compiled kernels (numba).

Why: the detector and the CLIP tower were trained, and the statement gates picked, on Pillow's
`Image.resize(..., BILINEAR)`; an OpenCV resize was 3x cheaper but moved a few packs (a 1-level rounding
difference), which moved the gates (docs/performance.md). This is Pillow 13.0's algorithm (`libImaging/Resample.c`)
written out: per output pixel the same double-precision filter weights, rounded to the same 22-bit integers, the
same integer sums and clipping, and the same choice of which pass runs first. Its passes are laid out for the CPU:
the vertical pass combines whole contiguous rows (Pillow walks pixel by pixel over 4-byte RGBX), which makes the
detector's 400x600 -> 427x640 upscale about 2.5x cheaper, with no conversion to and from a Pillow image.

It also pins the result to one algorithm: Pillow 12 and 13 differ in which pass runs first for images shrunk much
more in height than in width, which changes pixels; the packs should not depend on the installed Pillow.
Without numba (an optional speed-up of the `cpu`/`gpu` extras) the resize is Pillow's own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from PIL import Image

try:
    import numba
except ImportError:  # pragma: no cover - exercised only where numba is not installed
    numba = None  # type: ignore[assignment]

PRECISION_BITS = 32 - 8 - 2  # Pillow's: 8 bits of result, 2 for overflow of filters with negative lobes


def _jit(function: Callable[..., Any]) -> Callable[..., Any]:
    """Compiled without the GIL (the batch runners' threads resize at once), cached on disk where numba can write
    (NUMBA_CACHE_DIR; the images set /tmp under their read-only root), else compiled in each process (about 1 s)."""
    if numba is None:
        return function
    try:
        return numba.njit(nogil=True, cache=True)(function)
    except RuntimeError:  # no writable cache location
        return numba.njit(nogil=True)(function)


@_jit
def _coefficients(in_size: int, out_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pillow's precompute_coeffs + normalize_coeffs_8bpc for the bilinear filter (support 1): the first input
    index and tap count of each output index, and its integer weights."""
    scale = in_size / out_size
    filterscale = max(scale, 1.0)
    support = filterscale
    ksize = int(np.ceil(support)) * 2 + 1
    bounds = np.zeros((out_size, 2), np.int32)
    weights = np.zeros((out_size, ksize), np.int32)
    taps = np.zeros(ksize, np.float64)
    inverse = 1.0 / filterscale
    for xx in range(out_size):
        center = (xx + 0.5) * scale
        xmin = max(int(center - support + 0.5), 0)
        xmax = min(int(center + support + 0.5), in_size) - xmin
        total = 0.0
        for x in range(xmax):
            distance = abs((x + xmin - center + 0.5) * inverse)
            taps[x] = 1.0 - distance if distance < 1.0 else 0.0
            total += taps[x]
        for x in range(xmax):
            w = taps[x] / total if total != 0.0 else taps[x]
            weights[xx, x] = int(0.5 + w * (1 << PRECISION_BITS))  # bilinear weights are never negative
        bounds[xx, 0] = xmin
        bounds[xx, 1] = xmax
    return bounds, weights


@_jit
def _vertical(source: np.ndarray, first: int, bounds: np.ndarray, weights: np.ndarray, out: np.ndarray) -> None:
    """out[yy] = clip8(sum_j weights[yy, j] * source[bounds[yy, 0] - first + j]): whole rows (width x channels
    values) at a time, so the inner loop runs over contiguous memory."""
    width = source.shape[1]
    acc = np.empty(width, np.int32)
    for yy in range(bounds.shape[0]):
        start = bounds[yy, 0] - first
        acc[:] = 1 << (PRECISION_BITS - 1)
        for j in range(bounds[yy, 1]):
            weight = weights[yy, j]
            row = source[start + j]
            for x in range(width):
                acc[x] += np.int32(row[x]) * weight
        target = out[yy]
        for x in range(width):
            value = acc[x] >> PRECISION_BITS
            target[x] = 0 if value < 0 else (255 if value > 255 else value)


@_jit
def _horizontal(source: np.ndarray, first: int, index: np.ndarray, weights: np.ndarray, out: np.ndarray) -> None:
    """out[y, o] = clip8(sum_j weights[j, o] * source[first + y, index[j, o]]) over rows flattened to width x
    channels values: one contiguous loop per tap (a tap past a pixel's count has weight 0, which adds exactly 0)."""
    values = index.shape[1]
    acc = np.empty(values, np.int32)
    for y in range(out.shape[0]):
        row = source[first + y]
        acc[:] = 1 << (PRECISION_BITS - 1)
        for j in range(index.shape[0]):
            tap_index = index[j]
            tap_weight = weights[j]
            for o in range(values):
                acc[o] += np.int32(row[tap_index[o]]) * tap_weight[o]
        target = out[y]
        for o in range(values):
            value = acc[o] >> PRECISION_BITS
            target[o] = 0 if value < 0 else (255 if value > 255 else value)


def _vertical_pass(source: np.ndarray, first: int, bounds: np.ndarray, weights: np.ndarray) -> np.ndarray:
    height, width = source.shape[:2]
    out = np.empty((len(bounds), width, 3), np.uint8)
    _vertical(source.reshape(height, width * 3), first, bounds, weights, out.reshape(len(bounds), width * 3))
    return out


def _horizontal_pass(source: np.ndarray, first: int, rows: int, bounds: np.ndarray,
                     weights: np.ndarray) -> np.ndarray:
    """The horizontal pass over `rows` rows from `first`, with per-output-value tap tables (taps x width x 3)."""
    in_width = source.shape[1]
    out_width = len(bounds)
    taps = int(bounds[:, 1].max())
    columns = np.minimum(bounds[:, :1] + np.arange(taps, dtype=np.int32)[None, :], in_width - 1)  # (out, taps)
    index = (columns.T[:, :, None] * 3 + np.arange(3, dtype=np.int32)).reshape(taps, out_width * 3)
    tap_weights = np.repeat(weights[:, :taps].T, 3, axis=1)
    out = np.empty((rows, out_width, 3), np.uint8)
    _horizontal(source.reshape(len(source), in_width * 3), first, np.ascontiguousarray(index, np.int32),
                np.ascontiguousarray(tap_weights, np.int32), out.reshape(rows, out_width * 3))
    return out


def resize_bilinear(rgb: np.ndarray, width: int, height: int) -> np.ndarray:
    """HxWx3 uint8 -> height x width x 3 uint8, equal to
    `np.asarray(Image.fromarray(rgb).resize((width, height), Image.Resampling.BILINEAR))` under Pillow 13.0."""
    in_height, in_width = rgb.shape[:2]
    if (in_height, in_width) == (height, width):
        return rgb.copy()
    if numba is None:
        return np.asarray(Image.fromarray(rgb).resize((width, height), Image.Resampling.BILINEAR))
    source = np.ascontiguousarray(rgb, dtype=np.uint8)
    need_horizontal, need_vertical = width != in_width, height != in_height
    # Pillow 13: when the height shrinks by more than twice what the width does, the vertical pass runs first
    shrink = in_height - height
    horizontal_first = not (shrink > 0 and shrink > (in_width - width) * 2)
    rows_bounds, rows_weights = _coefficients(in_height, height)
    if horizontal_first:
        # the horizontal pass covers only the rows the vertical pass reads
        first = int(rows_bounds[0, 0]) if need_vertical else 0
        last = int(rows_bounds[-1, 0] + rows_bounds[-1, 1]) if need_vertical else in_height
        if need_horizontal:
            columns_bounds, columns_weights = _coefficients(in_width, width)
            source = _horizontal_pass(source, first, last - first, columns_bounds, columns_weights)
        else:
            first = 0
        return _vertical_pass(source, first, rows_bounds, rows_weights) if need_vertical else source
    source = _vertical_pass(source, 0, rows_bounds, rows_weights)
    if need_horizontal:
        columns_bounds, columns_weights = _coefficients(in_width, width)
        source = _horizontal_pass(source, 0, height, columns_bounds, columns_weights)
    return source
