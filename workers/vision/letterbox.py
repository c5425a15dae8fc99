"""Letterboxing a batch of images onto one canvas, and mapping boxes back (Ultralytics' LetterBox, with Pillow's
bilinear resize: workers.vision.resize).

Each image is resized so its long side is the model size, then padded (grey 114, centred) to a canvas shared by
the whole batch: the smallest stride multiple holding every resized image. Same-shaped images get exactly the
canvas Ultralytics' predictor uses (`auto=True`), e.g. 448x640 for a 400x600 photo.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from workers.vision.prep import map_indices
from workers.vision.resize import Resizable, fill_outside, resize_bilinear, resize_to_planes

PAD_VALUE = 114


@dataclass(frozen=True)
class Placement:
    """Where an image sits on the canvas: resize gain and the left/top padding, in canvas pixels."""

    gain: float
    left: int
    top: int
    height: int  # of the image as given (decoded pixels)
    width: int


def resized_shape(height: int, width: int, size: int) -> tuple[int, int]:
    gain = min(size / height, size / width)
    return max(round(height * gain), 1), max(round(width * gain), 1)  # a thin image keeps one pixel (as Ultralytics)


def canvas_shape(shapes: Sequence[tuple[int, int]], size: int, stride: int = 32) -> tuple[int, int]:
    """The smallest stride-multiple (height, width) holding every image of `shapes` resized to `size`."""
    resized = [resized_shape(h, w, size) for h, w in shapes]
    height = max(h for h, _ in resized)
    width = max(w for _, w in resized)
    return min(size, math.ceil(height / stride) * stride), min(size, math.ceil(width / stride) * stride)


def place(rgb: np.ndarray, canvas: np.ndarray, size: int, channels_first: bool = False) -> Placement:
    """Resize `rgb` (HxWx3 uint8) into the centre of `canvas` (HxWx3, or 3xHxW when `channels_first`; already
    filled with padding)."""
    height, width = rgb.shape[:2]
    new_h, new_w = resized_shape(height, width, size)
    if (new_h, new_w) != (height, width):
        rgb = resize_bilinear(rgb, new_w, new_h)
    canvas_h, canvas_w = canvas.shape[1:] if channels_first else canvas.shape[:2]
    top, left = round((canvas_h - new_h) / 2 - 0.1), round((canvas_w - new_w) / 2 - 0.1)
    if channels_first:
        canvas[:, top : top + new_h, left : left + new_w] = rgb.transpose(2, 0, 1)
    else:
        canvas[top : top + new_h, left : left + new_w] = rgb
    return Placement(gain=min(size / height, size / width), left=left, top=top, height=height, width=width)


def letterbox_batch(images: Sequence[np.ndarray], size: int, stride: int = 32,
                    channels_first: bool = False) -> tuple[np.ndarray, list[Placement]]:
    """N RGB images -> one NxHxWx3 uint8 canvas batch (Nx3xHxW when `channels_first`, the layout the model
    reads: converting that to float is one contiguous pass) and each image's placement."""
    if not images:
        raise ValueError("letterbox_batch needs at least one image")
    height, width = canvas_shape([im.shape[:2] for im in images], size, stride)
    shape = (len(images), 3, height, width) if channels_first else (len(images), height, width, 3)
    batch = np.full(shape, PAD_VALUE, dtype=np.uint8)
    placements = [place(rgb, batch[i], size, channels_first) for i, rgb in enumerate(images)]
    return batch, placements


def letterbox_tensor(images: Sequence[Resizable], size: int, dtype: type[np.floating], scale: float,
                     stride: int = 32, threads: int = 1) -> tuple[np.ndarray, list[Placement]]:
    """`letterbox_batch(..., channels_first=True) * scale` as `dtype`, without the uint8 canvas: each resized image
    is scaled straight into its window of the tensor and only the padding strips are filled, so the batch is
    written once (the same float32 products, element by element, as converting the canvas). `threads`: images
    prepared at once (workers.vision.prep)."""
    if not images:
        raise ValueError("letterbox_tensor needs at least one image")
    factor = np.float32(scale)
    height, width = canvas_shape([im.shape[:2] for im in images], size, stride)
    tensor = np.empty((len(images), 3, height, width), dtype=dtype)
    pad = np.multiply(np.full(1, PAD_VALUE, np.uint8), factor)[0]
    scales, zeros = np.full(3, factor, np.float32), np.zeros(3, np.float32)  # x * factor + 0 == x * factor

    def place_scaled(i: int) -> Placement:
        image_h, image_w = images[i].shape[:2]
        new_h, new_w = resized_shape(image_h, image_w, size)
        top, left = round((height - new_h) / 2 - 0.1), round((width - new_w) / 2 - 0.1)
        fill_outside(tensor[i], top, left, new_h, new_w, pad)
        resize_to_planes(images[i], tensor[i], top, left, new_h, new_w, scales, zeros)
        return Placement(gain=min(size / image_h, size / image_w), left=left, top=top, height=image_h, width=image_w)

    return tensor, map_indices(place_scaled, len(images), threads)


def to_image_boxes(boxes: np.ndarray, placement: Placement) -> np.ndarray:
    """xyxy boxes in canvas pixels -> xyxy in the image's pixels, clipped to the image."""
    out = boxes.astype(np.float64, copy=True)
    out[:, [0, 2]] = (out[:, [0, 2]] - placement.left) / placement.gain
    out[:, [1, 3]] = (out[:, [1, 3]] - placement.top) / placement.gain
    out[:, [0, 2]] = out[:, [0, 2]].clip(0, placement.width)
    out[:, [1, 3]] = out[:, [1, 3]].clip(0, placement.height)
    return out
