"""The compiled resize is Pillow's bilinear resize, pixel for pixel (the models and the statement gates were made
on Pillow's), for every shape the vision stage meets: up, down, one axis, thin, and crops that are views."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from workers.vision import resize
from workers.vision.resize import Picture, resize_bilinear, resize_to_planes, write_planes


def pillow(rgb: np.ndarray, width: int, height: int) -> np.ndarray:
    return np.asarray(Image.fromarray(np.ascontiguousarray(rgb)).resize((width, height), Image.Resampling.BILINEAR))


def blocky(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Flat patches with edges, like a photo's garments, rather than noise only."""
    small = rng.integers(0, 256, (height // 7 + 1, width // 7 + 1, 3), dtype=np.uint8)
    return np.ascontiguousarray(np.repeat(np.repeat(small, 7, 0), 7, 1)[:height, :width])


@pytest.mark.parametrize(("shape", "size"), [
    ((600, 400), (427, 640)),   # the detector's upscale of a Colorful Fashion photo
    ((320, 213), (427, 640)),   # of an H&M catalogue photo
    ((600, 400), (128, 192)),   # the whole photo into the CLIP tower
    ((700, 90), (60, 300)),     # the height shrinks far more than the width: Pillow 13 runs the vertical pass first
    ((3000, 2), (1, 640)),      # a thin image keeps one pixel column
    ((1, 1), (192, 192)),
    ((50, 80), (80, 50)),       # one axis up, the other down
    ((480, 640), (640, 480)),
    ((200, 300), (300, 200)),
    ((240, 320), (320, 240)),
])
def test_given_the_pipelines_shapes_when_resized_then_equal_to_pillow(shape: tuple[int, int],
                                                                    size: tuple[int, int]) -> None:
    rng = np.random.default_rng(sum(shape) + sum(size))
    for rgb in (rng.integers(0, 256, (*shape, 3), dtype=np.uint8), blocky(rng, *shape)):
        width, height = size
        assert np.array_equal(resize_bilinear(rgb, width, height), pillow(rgb, width, height))


def test_given_random_shapes_and_crop_views_when_resized_then_every_pixel_equals_pillow() -> None:
    # Given 400 random sizes in and out, half of the inputs crops (non-contiguous views) of a larger image
    rng = np.random.default_rng(7)
    for case in range(400):
        height, width = (int(v) for v in rng.integers(1, 400, 2))
        out_height, out_width = (int(v) for v in rng.integers(1, 400, 2))
        if case % 4 == 0:
            out_height = height  # one pass only
        elif case % 4 == 1:
            out_width = width
        rgb = rng.integers(0, 256, (height + 9, width + 5, 3), dtype=np.uint8)
        view = rgb[4:4 + height, 2:2 + width] if case % 2 else np.ascontiguousarray(rgb[:height, :width])
        # When resized, Then exactly Pillow's pixels
        assert np.array_equal(resize_bilinear(view, out_width, out_height), pillow(view, out_width, out_height)), (
            (height, width), (out_height, out_width))


def test_given_the_same_size_when_resized_then_a_copy_of_the_input() -> None:
    rgb = np.random.default_rng(1).integers(0, 256, (30, 40, 3), dtype=np.uint8)
    out = resize_bilinear(rgb, 40, 30)
    assert np.array_equal(out, rgb)
    assert not np.shares_memory(out, rgb)


def test_given_scale_and_shift_when_written_into_planes_then_numpys_two_float32_passes() -> None:
    # Given an image and a window of a larger float32 tensor (strided), CLIP-like per-channel scale and shift
    rng = np.random.default_rng(11)
    rgb = rng.integers(0, 256, (57, 91, 3), dtype=np.uint8)
    scale = (1 / (255 * np.array([0.26862954, 0.26130258, 0.27577711]))).astype(np.float32)
    shift = (-np.array([0.48145466, 0.4578275, 0.40821073]) / [0.26862954, 0.26130258, 0.27577711]).astype(np.float32)
    tensor = np.zeros((3, 70, 100), np.float32)
    # When written
    write_planes(rgb, tensor[:, 6:63, 4:95], scale, shift)
    # Then every value is numpy's multiply-then-add, and nothing outside the window moved
    expected = np.multiply(rgb.transpose(2, 0, 1), scale[:, None, None], dtype=np.float32)
    expected += shift[:, None, None]
    assert np.array_equal(tensor[:, 6:63, 4:95], expected)
    assert not tensor[:, :6].any() and not tensor[:, 63:].any() and not tensor[:, :, :4].any()


def test_given_random_shapes_when_resized_into_planes_then_equal_to_resizing_then_writing() -> None:
    # Given 300 random sizes in and out (every pass order, one axis only, read-only decoded images and crop views)
    # and CLIP-like scale and shift, each resized into a window of a larger float32 tensor
    rng = np.random.default_rng(13)
    scale = np.array([0.0146, 0.0150, 0.0142], np.float32)
    shift = np.array([-1.79, -1.75, -1.48], np.float32)
    for case in range(300):
        height, width = (int(v) for v in rng.integers(1, 300, 2))
        out_height, out_width = (int(v) for v in rng.integers(1, 300, 2))
        if case % 5 == 0:
            out_height = height
        elif case % 5 == 1:
            out_width = width
        rgb = blocky(rng, height + 6, width + 4)
        rgb.setflags(write=False)
        view = rgb[3:3 + height, 1:1 + width] if case % 2 else rgb[:height, :width].copy()
        top, left = int(rng.integers(0, 5)), int(rng.integers(0, 5))
        fused = np.zeros((3, out_height + 6, out_width + 5), np.float32)
        expected = fused.copy()
        # When resized into the planes
        resize_to_planes(view, fused, top, left, out_height, out_width, scale, shift)
        # Then the same float32 values as resizing, then writing the planes, and nothing else written
        window = expected[:, top:top + out_height, left:left + out_width]
        write_planes(pillow(view, out_width, out_height), window, scale, shift)
        assert np.array_equal(fused, expected), ((height, width), (out_height, out_width))


def test_given_windows_of_one_picture_when_resized_then_equal_to_resizing_their_pixels() -> None:
    # Given a read-only decoded photo as a Picture, and 200 random windows of it (crops, edges, the whole photo)
    rng = np.random.default_rng(17)
    rgb = blocky(rng, 240, 170)
    rgb.setflags(write=False)
    picture = Picture(rgb)
    scale, shift = np.full(3, 0.5, np.float32), np.full(3, -1.0, np.float32)
    for case in range(200):
        top, left = (0, 0) if case == 0 else (int(rng.integers(0, 230)), int(rng.integers(0, 160)))
        height, width = 240 - top, 170 - left
        if case:
            height, width = int(rng.integers(1, height + 1)), int(rng.integers(1, width + 1))
        window = picture.window(top, left, height, width)
        out_height, out_width = (int(v) for v in rng.integers(1, 260, 2))
        crop = rgb[top:top + height, left:left + width]
        # When the window is resized (alone, and into planes), Then exactly its pixels' resize
        assert np.array_equal(window.rgb, crop)
        expected = pillow(crop, out_width, out_height)
        assert np.array_equal(resize_bilinear(window, out_width, out_height), expected), (top, left, height, width)
        planes = np.zeros((3, out_height + 2, out_width + 3), np.float32)
        resize_to_planes(window, planes, 1, 2, out_height, out_width, scale, shift)
        reference = np.zeros_like(planes)
        write_planes(expected, reference[:, 1:1 + out_height, 2:2 + out_width], scale, shift)
        assert np.array_equal(planes, reference), (top, left, height, width)
    # And the picture was transposed once, for all its windows
    assert picture.columns() is picture.columns()
    assert np.array_equal(picture.columns(), rgb.transpose(1, 0, 2).reshape(170, 240 * 3))


def test_given_no_numba_when_resized_then_pillows_own_resize(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given no numba: the kernels must not run (they would be plain, very slow Python)
    def not_without_numba(*args: object) -> None:
        raise AssertionError("a kernel ran without numba")

    rgb = np.random.default_rng(3).integers(0, 256, (37, 53, 3), dtype=np.uint8)
    monkeypatch.setattr(resize, "NUMBA", False)
    for kernel in ("_coefficients", "_vertical", "_transpose", "_planes", "_vertical_planes"):
        monkeypatch.setattr(resize, kernel, not_without_numba)
    # When resized and written into planes, Then Pillow's pixels and numpy's values
    out = resize_bilinear(rgb, 20, 70)
    assert np.array_equal(out, pillow(rgb, 20, 70))
    planes = np.empty((3, 70, 20), np.float32)
    write_planes(out, planes, np.full(3, 0.5, np.float32), np.ones(3, np.float32))
    assert np.array_equal(planes, out.transpose(2, 0, 1) * np.float32(0.5) + np.float32(1))
    for image in (rgb, Picture(rgb).window()):
        resize_to_planes(image, planes, 0, 0, 70, 20, np.full(3, 0.5, np.float32), np.ones(3, np.float32))
        assert np.array_equal(planes, out.transpose(2, 0, 1) * np.float32(0.5) + np.float32(1))
