"""Pure numpy pieces of the detector: NMS, IoU, letterbox geometry."""

from __future__ import annotations

import numpy as np

from workers.vision.letterbox import canvas_shape, letterbox_batch, letterbox_tensor, to_image_boxes
from workers.vision.nms import class_aware_nms, iou_matrix, nms, xywh_to_xyxy


def brute_force_nms(boxes: np.ndarray, scores: np.ndarray, threshold: float) -> list[int]:
    keep: list[int] = []
    for i in np.argsort(-scores, kind="stable"):
        if all(iou_matrix(boxes[[i]], boxes[[k]])[0, 0] <= threshold for k in keep):
            keep.append(int(i))
    return keep


def random_boxes(rng: np.random.Generator, n: int) -> np.ndarray:
    xy = rng.uniform(0, 300, size=(n, 2))
    wh = rng.uniform(5, 120, size=(n, 2))
    return np.concatenate([xy, xy + wh], axis=1)


def test_given_random_boxes_when_nms_then_it_keeps_what_brute_force_keeps() -> None:
    rng = np.random.default_rng(0)
    for _ in range(20):
        boxes, scores = random_boxes(rng, 60), rng.uniform(size=60)
        assert nms(boxes, scores, 0.5).tolist() == brute_force_nms(boxes, scores, 0.5)


def test_given_overlapping_boxes_of_two_classes_when_class_aware_nms_then_both_survive() -> None:
    boxes = np.array([[10, 10, 100, 100], [12, 12, 100, 100], [11, 11, 99, 99]], dtype=float)
    scores = np.array([0.9, 0.8, 0.7])
    classes = np.array([0, 1, 0])
    assert sorted(class_aware_nms(boxes, scores, classes, 0.5).tolist()) == [0, 1]
    assert nms(boxes, scores, 0.5).tolist() == [0]


def test_iou_matrix_of_known_boxes() -> None:
    a = np.array([[0, 0, 10, 10]], dtype=float)
    b = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30]], dtype=float)
    np.testing.assert_allclose(iou_matrix(a, b)[0], [1.0, 50 / 150, 0.0], atol=1e-6)


def test_xywh_to_xyxy() -> None:
    np.testing.assert_allclose(xywh_to_xyxy(np.array([[50.0, 40.0, 20.0, 10.0]])), [[40, 35, 60, 45]])


def test_given_portrait_photos_when_letterboxed_then_canvas_is_ultralytics_rectangle() -> None:
    assert canvas_shape([(600, 400)], 640) == (640, 448)
    assert canvas_shape([(600, 400), (400, 600)], 640) == (640, 640)
    assert canvas_shape([(3000, 4000)], 640) == (480, 640)


def test_given_a_box_on_the_canvas_when_mapped_back_then_it_lands_on_the_original_pixels() -> None:
    image = np.zeros((600, 400, 3), dtype=np.uint8)
    image[100:200, 50:150] = 255
    batch, (placement,) = letterbox_batch([image], 640)
    ys, xs = np.nonzero(batch[0, :, :, 0] > 128)
    canvas_box = np.array([[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]], dtype=float)
    np.testing.assert_allclose(to_image_boxes(canvas_box, placement)[0], [50, 100, 150, 200], atol=1.5)
    assert batch.shape == (1, 640, 448, 3)
    assert batch[0, 0, 0, 0] == 114 or placement.left == 0


def test_given_channels_first_when_letterboxed_then_the_canvas_is_the_transposed_one() -> None:
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 255, (600, 400, 3), dtype=np.uint8), rng.integers(0, 255, (300, 500, 3), dtype=np.uint8)]
    hwc, placements = letterbox_batch(images, 640)
    chw, placements_chw = letterbox_batch(images, 640, channels_first=True)
    assert chw.shape == (2, 3, 640, 640)
    np.testing.assert_array_equal(chw, hwc.transpose(0, 3, 1, 2))
    assert placements == placements_chw


def test_given_a_mixed_batch_when_letterboxed_to_a_tensor_then_it_equals_the_converted_canvas() -> None:
    """The detector's direct float path must give the very tensor the uint8 canvas converted to float gives."""
    rng = np.random.default_rng(1)
    images = [rng.integers(0, 256, shape, dtype=np.uint8)
              for shape in [(600, 400, 3), (300, 500, 3), (640, 640, 3), (90, 7, 3), (2000, 1500, 3)]]
    canvas, placements = letterbox_batch(images, 640, channels_first=True)
    for dtype in (np.float32, np.float16):
        expected = np.empty(canvas.shape, dtype)
        np.multiply(canvas, np.float32(1 / 255), out=expected, casting="unsafe")
        tensor, tensor_placements = letterbox_tensor(images, 640, dtype, 1 / 255)
        assert tensor.dtype == dtype
        np.testing.assert_array_equal(tensor, expected)
        assert tensor_placements == placements


def test_given_a_thin_image_in_a_batch_when_letterboxed_then_it_keeps_one_pixel_and_the_batch_goes_on() -> None:
    # a 2 x 3000 strip resizes to 0.43 pixel high: rounded to 0 it failed the whole batch (Pillow: "height must be > 0")
    thin = np.full((2, 3000, 3), 200, np.uint8)
    photo = np.zeros((600, 400, 3), np.uint8)
    tensor, placements = letterbox_tensor([thin, photo], 640, np.float32, 1 / 255)
    assert tensor.shape == (2, 3, 640, 640)
    assert placements[0].gain == 640 / 3000
    assert np.isclose(tensor[0], np.float32(200 / 255)).any(axis=(0, 2)).sum() == 1  # one row of the strip
