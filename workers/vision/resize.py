"""Pillow's bilinear resize of an RGB uint8 image, bit for bit, in compiled kernels (numba).

Why: the detector and the CLIP tower were trained, and the statement gates picked, on Pillow's
`Image.resize(..., BILINEAR)`; an OpenCV resize was 3x cheaper but moved a few packs (a 1-level rounding
difference), which moved the gates (docs/performance.md). This is Pillow 13.0's algorithm (`libImaging/Resample.c`)
written out: per output pixel the same double-precision filter weights, rounded to the same 22-bit integers, the
same integer sums and clipping, and the same choice of which pass runs first. Its passes are laid out for the CPU:
the vertical pass combines whole contiguous rows (Pillow walks pixel by pixel over 4-byte RGBX), which makes the
detector's 400x600 -> 427x640 upscale about 4x cheaper (2.6 -> 0.63 ms), with no Pillow image in between.

It also pins the result to one algorithm: Pillow 13.0 runs the vertical pass first for an image shrunk much more in
height than in width, where earlier releases always ran the horizontal pass first, and the two orders round apart.
With numba the packs do not depend on the installed Pillow; without it (it comes with the `cpu`/`gpu` extras) the
resize is the installed Pillow's own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

import numpy as np
from PIL import Image as PILImage

from workers.vision.compiled import NUMBA
from workers.vision.compiled import jit as _jit

PRECISION_BITS = 32 - 8 - 2  # Pillow's: 8 bits of result, 2 for overflow of filters with negative lobes


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
def _vertical(source: np.ndarray, first: int, bounds: np.ndarray, weights: np.ndarray, out: np.ndarray,
              column: int) -> None:
    """out[yy] = clip8(sum_j weights[yy, j] * source[bounds[yy, 0] - first + j, column:column + out width]): whole
    rows (width x channels values) at a time, so the inner loop runs over contiguous memory."""
    width = out.shape[1]
    acc = np.empty(width, np.int32)
    for yy in range(bounds.shape[0]):
        start = bounds[yy, 0] - first
        acc[:] = 1 << (PRECISION_BITS - 1)
        for j in range(bounds[yy, 1]):
            weight = weights[yy, j]
            row = source[start + j, column:column + width]
            for x in range(width):
                acc[x] += np.int32(row[x]) * weight
        target = out[yy]
        for x in range(width):
            value = acc[x] >> PRECISION_BITS
            target[x] = 0 if value < 0 else (255 if value > 255 else value)


@_jit
def _transpose(source: np.ndarray, out: np.ndarray) -> None:
    """out[x, y] = source[y, x] for (H, W, 3) -> (W, H, 3), in 64 x 64 blocks (numpy's strided copy is 3x slower)."""
    height, width = source.shape[0], source.shape[1]
    for y0 in range(0, height, 64):
        y1 = min(y0 + 64, height)
        for x0 in range(0, width, 64):
            for x in range(x0, min(x0 + 64, width)):
                target = out[x]
                for y in range(y0, y1):
                    target[y, 0] = source[y, x, 0]
                    target[y, 1] = source[y, x, 1]
                    target[y, 2] = source[y, x, 2]


@_jit
def _planes(rgb: np.ndarray, scale: np.ndarray, shift: np.ndarray, out: np.ndarray) -> None:
    """out[c, y, x] = float32(rgb[y, x, c]) * scale[c] + shift[c], two float32 roundings as numpy's two passes."""
    for c in range(3):
        factor = scale[c]
        offset = shift[c]
        for y in range(rgb.shape[0]):
            source = rgb[y]
            target = out[c, y]
            for x in range(rgb.shape[1]):
                target[x] = np.float32(source[x, c]) * factor + offset


@_jit
def _clip8(value: int) -> int:
    return 0 if value < 0 else (255 if value > 255 else value)


@_jit
def _vertical_planes(source: np.ndarray, first: int, bounds: np.ndarray, weights: np.ndarray, scale: np.ndarray,
                     shift: np.ndarray, out: np.ndarray, top: int, left: int, width: int) -> None:
    """`_vertical` then `_planes` in one pass: each output row's sums, clipped to 8 bits, are written as
    `value * scale[c] + shift[c]` into out[c, top + row, left:left + width] (`out`: 3 x H x W float32, contiguous:
    numba's code for a strided view is 2x slower)."""
    acc = np.empty(width * 3, np.int32)
    for yy in range(bounds.shape[0]):
        start = bounds[yy, 0] - first
        acc[:] = 1 << (PRECISION_BITS - 1)
        for j in range(bounds[yy, 1]):
            weight = weights[yy, j]
            row = source[start + j]
            for x in range(width * 3):
                acc[x] += np.int32(row[x]) * weight
        red = out[0, top + yy, left:left + width]
        green = out[1, top + yy, left:left + width]
        blue = out[2, top + yy, left:left + width]
        for x in range(width):
            red[x] = np.float32(_clip8(acc[3 * x] >> PRECISION_BITS)) * scale[0] + shift[0]
            green[x] = np.float32(_clip8(acc[3 * x + 1] >> PRECISION_BITS)) * scale[1] + shift[1]
            blue[x] = np.float32(_clip8(acc[3 * x + 2] >> PRECISION_BITS)) * scale[2] + shift[2]


def _vertical_pass(source: np.ndarray, first: int, bounds: np.ndarray, weights: np.ndarray) -> np.ndarray:
    height, width = source.shape[:2]
    out = np.empty((len(bounds), width, 3), np.uint8)
    _vertical(source.reshape(height, width * 3), first, bounds, weights, out.reshape(len(bounds), width * 3), 0)
    return out


def _transposed(source: np.ndarray) -> np.ndarray:
    out = np.empty((source.shape[1], source.shape[0], 3), np.uint8)
    _transpose(source, out)
    return out


class Picture:
    """An RGB image (H x W x 3 uint8) whose transpose is made once, when a resize first needs it, and shared by the
    horizontal passes of the resizes of the image and of its windows that run that pass first and change both sides
    (most of them: a batch resizes each photo for the detector, again for the CLIP tower, and each garment crop)."""

    def __init__(self, rgb: np.ndarray) -> None:
        self.rgb = rgb
        self._columns: np.ndarray | None = None

    def columns(self) -> np.ndarray:
        """The image transposed, as W x (H * 3): row x holds column x of the image, pixel after pixel."""
        if self._columns is None:  # two threads may both make it: equal arrays, either is kept
            height, width = self.rgb.shape[:2]
            self._columns = _transposed(np.ascontiguousarray(self.rgb, dtype=np.uint8)).reshape(width, height * 3)
        return self._columns

    def window(self, top: int = 0, left: int = 0, height: int | None = None, width: int | None = None) -> Window:
        """The window of `height` x `width` pixels at (top, left); the whole image by default."""
        full_height, full_width = self.rgb.shape[:2]
        return Window(self, top, left, full_height - top if height is None else height,
                      full_width - left if width is None else width)


@dataclass(frozen=True)
class Window:
    """A window of a Picture: a garment crop, or the whole photo."""

    picture: Picture
    top: int
    left: int
    height: int
    width: int

    @property
    def rgb(self) -> np.ndarray:
        return self.picture.rgb[self.top:self.top + self.height, self.left:self.left + self.width]

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.height, self.width, 3


Resizable: TypeAlias = "np.ndarray | Window"  # what the resizes take: pixels, or a window of a Picture


def pixels(image: Resizable) -> np.ndarray:
    return image.rgb if isinstance(image, Window) else image


def _horizontal_pass(image: Resizable, first: int, rows: int, bounds: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The horizontal pass over `rows` rows from `first`: the rows pass on the transposed image, transposed back
    (the same sums as Pillow's pixel-by-pixel pass, with contiguous inner loops). A window's rows pass reads its
    picture's transpose, made once for all windows of the picture."""
    if isinstance(image, Window):
        out = np.empty((len(bounds), rows, 3), np.uint8)
        # row x of the transpose is the picture's column x; the window's rows from `first` are a slice of it
        _vertical(image.picture.columns(), -image.left, bounds, weights, out.reshape(len(bounds), rows * 3),
                  (image.top + first) * 3)
        return _transposed(out)
    return _transposed(_vertical_pass(_transposed(image[first:first + rows]), 0, bounds, weights))


def write_planes(rgb: np.ndarray, out: np.ndarray, scale: np.ndarray, shift: np.ndarray) -> None:
    """Write HxWx3 uint8 `rgb` into `out` (3xHxW float32, a view may be strided) as `rgb * scale + shift` per
    channel (float32 (3,) each): the same float32 values as numpy's multiply then add over the transposed image."""
    if not NUMBA or out.dtype != np.float32:
        np.multiply(rgb.transpose(2, 0, 1), scale[:, None, None], out=out, casting="unsafe")
        out += shift[:, None, None]
        return
    _planes(rgb, scale.astype(np.float32), shift.astype(np.float32), out)


def fill_outside(planes: np.ndarray, top: int, left: int, height: int, width: int, value: object) -> None:
    """Fill `planes` (C x H x W) with `value` (a scalar, or one per channel as C x 1 x 1) outside the height x width
    window at (top, left): the padding strips of a letterboxed image."""
    planes[:, :top] = value
    planes[:, top + height:] = value
    planes[:, top:top + height, :left] = value
    planes[:, top:top + height, left + width:] = value


def _contiguous(image: Resizable) -> np.ndarray:
    return np.ascontiguousarray(pixels(image), dtype=np.uint8)


def _before_last_vertical(image: Resizable, width: int,
                          height: int) -> tuple[np.ndarray, int, np.ndarray, np.ndarray] | None:
    """When Pillow's last pass is the vertical one: the image after its horizontal pass (only the rows the vertical
    pass reads, from row `first`) and the vertical pass's coefficients, as (rows, first, bounds, weights). None when
    there is no vertical pass, or it runs first."""
    in_height, in_width = image.shape[:2]
    shrink = in_height - height
    # Pillow 13: when the height shrinks by more than twice what the width does, the vertical pass runs first
    if height == in_height or (shrink > 0 and shrink > (in_width - width) * 2):
        return None
    rows_bounds, rows_weights = _coefficients(in_height, height)
    if width == in_width:
        return _contiguous(image), 0, rows_bounds, rows_weights
    first, last = int(rows_bounds[0, 0]), int(rows_bounds[-1, 0] + rows_bounds[-1, 1])
    columns_bounds, columns_weights = _coefficients(in_width, width)
    source = image if isinstance(image, Window) else _contiguous(image)
    rows = _horizontal_pass(source, first, last - first, columns_bounds, columns_weights)
    return rows, first, rows_bounds, rows_weights


def resize_bilinear(image: Resizable, width: int, height: int) -> np.ndarray:
    """HxWx3 uint8 (or a Window of a Picture) -> height x width x 3 uint8, equal to
    `np.asarray(PIL.Image.fromarray(rgb).resize((width, height), BILINEAR))` under Pillow 13.0."""
    in_height, in_width = image.shape[:2]
    if (in_height, in_width) == (height, width):
        return pixels(image).copy()
    if not NUMBA:
        return np.asarray(PILImage.fromarray(pixels(image)).resize((width, height), PILImage.Resampling.BILINEAR))
    staged = _before_last_vertical(image, width, height)
    if staged is not None:
        return _vertical_pass(*staged)
    source = _contiguous(image)
    if height != in_height:
        source = _vertical_pass(source, 0, *_coefficients(in_height, height))
    if width != in_width:
        source = _horizontal_pass(source, 0, height, *_coefficients(in_width, width))
    return source


def resize_to_planes(image: Resizable, planes: np.ndarray, top: int, left: int, height: int, width: int,
                     scale: np.ndarray, shift: np.ndarray) -> None:
    """`write_planes(resize_bilinear(rgb, width, height), window, scale, shift)` for the window of `planes`
    (3 x H x W) at (top, left): when the vertical pass is Pillow's last, its sums go straight into the float planes
    (no uint8 image and no second pass over it; 0.47 -> 0.24 ms for the detector's 600 x 400 -> 640 x 427)."""
    window = planes[:, top:top + height, left:left + width]
    if image.shape[:2] == (height, width):
        write_planes(pixels(image), window, scale, shift)
        return
    if NUMBA and planes.dtype == np.float32 and planes.flags.c_contiguous:
        staged = _before_last_vertical(image, width, height)
        if staged is not None:
            rows, first, bounds, weights = staged
            _vertical_planes(rows.reshape(len(rows), -1), first, bounds, weights, scale.astype(np.float32),
                             shift.astype(np.float32), planes, top, left, width)
            return
    write_planes(resize_bilinear(image, width, height), window, scale, shift)
