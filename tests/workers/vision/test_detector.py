"""The runtime detector on the bundled ONNX model: batching, coordinates, errors (ONNX Runtime, no torch)."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from shared.errors import ModelNotAvailableError
from shared.images import DecodedImage, decode_image, load_image
from shared.settings import Settings
from shared.vocab import GARMENT_LABELS
from workers.vision.detector import Detection, GarmentDetector
from workers.vision.nms import iou_matrix


def street_size(path: Path) -> DecodedImage:
    """The photo resized to 400x600, the size of the street-fashion photos the detector was trained on."""
    with Image.open(path) as image:
        return decode_image(_encode(np.asarray(image.convert("RGB").resize((400, 600))), "PNG"))


def count_session_calls(detector: GarmentDetector) -> list[int]:
    """Wraps the real session call to record each call's batch size."""
    calls: list[int] = []
    real_run = detector._model.run

    def run(inputs: dict[str, np.ndarray], outputs: list[str] | None = None) -> list[np.ndarray]:
        calls.append(next(iter(inputs.values())).shape[0])
        return real_run(inputs, outputs)

    detector._model.run = run  # type: ignore[method-assign]
    return calls


def assert_same_detections(
    a: list[Detection], b: list[Detection], iou: float = 0.99, score_tolerance: float = 2e-3
) -> None:
    assert [d.label for d in a] == [d.label for d in b]
    if a:
        ious = iou_matrix(np.array([d.box for d in a]), np.array([d.box for d in b])).diagonal()
        assert ious.min() > iou
        np.testing.assert_allclose([d.score for d in a], [d.score for d in b], atol=score_tolerance)


def test_given_photos_when_detected_then_garments_are_found_with_valid_boxes(
    photos: list[Path], model_path: Path, cpu_settings: Settings
) -> None:
    detector = GarmentDetector(model_path, cpu_settings)
    images = [load_image(p) for p in photos[:6]]
    results = detector.detect_batch(images)
    assert len(results) == 6
    assert all(results[:2]), "both street photos show garments"
    for image, detections in zip(images, results, strict=True):
        for d in detections:
            assert d.label == GARMENT_LABELS[d.class_id]
            assert cpu_settings.detector_conf < d.score <= 1.0
            x1, y1, x2, y2 = d.box
            assert 0 <= x1 < x2 <= image.width and 0 <= y1 < y2 <= image.height
    assert detector.version.startswith("yolov8n-garments-")
    assert detector.input_size == 640


def test_given_ten_images_and_batch_size_four_when_detect_batch_then_three_session_calls_match_one_by_one(
    photos: list[Path], model_path: Path
) -> None:
    settings = Settings(ort_providers="cpu", detector_batch_size=4)
    detector = GarmentDetector(model_path, settings)
    images = [street_size(p) for p in photos[:10]]  # one size: batching must not change the letterbox
    one_by_one = [detector.detect(image) for image in images]
    calls = count_session_calls(detector)
    batched = detector.detect_batch(images)
    assert calls == [4, 4, 2]
    for single, batch in zip(one_by_one, batched, strict=True):
        assert_same_detections(single, batch)


def test_given_mixed_orientations_in_one_batch_when_detected_then_each_equals_its_single_run(
    photos: list[Path], model_path: Path, cpu_settings: Settings
) -> None:
    # Given portrait and landscape photos interleaved (one shared canvas would pad each more than alone)
    detector = GarmentDetector(model_path, cpu_settings)
    portrait = street_size(photos[0])
    landscape = decode_image(_encode(np.ascontiguousarray(np.rot90(portrait.rgb)), "PNG"))
    images = [portrait, landscape, portrait, landscape]
    single = [detector.detect(image) for image in images]

    # When detected as one batch
    calls = count_session_calls(detector)
    batched = detector.detect_batch(images)

    # Then one session call per canvas shape, and every image's detections are exactly its single run's, in order
    assert calls == [2, 2]
    assert [d for d in single[0] if d.score > 0.6], "the upright photo shows garments the detector is sure of"
    for alone, together in zip(single, batched, strict=True):
        assert_same_detections(alone, together)


def test_given_a_big_jpeg_decoded_at_reduced_size_when_detected_then_boxes_are_in_original_pixels(
    photos: list[Path], model_path: Path, cpu_settings: Settings
) -> None:
    detector = GarmentDetector(model_path, cpu_settings)
    source = load_image(photos[1])
    big = Image.fromarray(source.rgb).resize((source.width * 4, source.height * 4), Image.Resampling.BICUBIC)
    drafted = decode_image(_encode(np.asarray(big), "JPEG"), min_side=detector.input_size)
    assert drafted.scale > 1 and drafted.width == source.width * 4
    reference = detector.detect(source)
    found = detector.detect(drafted)
    assert {d.label for d in found} >= {d.label for d in reference if d.score > 0.5}
    best = max(reference, key=lambda d: d.score)
    match = max((d for d in found if d.label == best.label), key=lambda d: d.score)
    iou = iou_matrix(np.array([match.box]), np.array([best.box]) * 4)[0, 0]
    assert iou > 0.8


def test_given_a_missing_model_when_detecting_then_model_not_available(tmp_path: Path, cpu_settings: Settings) -> None:
    detector = GarmentDetector(tmp_path / "nope.onnx", cpu_settings)
    image = decode_image(_encode(np.zeros((64, 64, 3), np.uint8), "PNG"))
    with pytest.raises(ModelNotAvailableError):
        detector.detect(image)


def test_given_the_default_settings_then_the_bundled_model_is_used(cpu_settings: Settings, model_path: Path) -> None:
    assert GarmentDetector(settings=cpu_settings).path == model_path


def test_runtime_detector_imports_no_torch_or_ultralytics() -> None:
    code = (
        "import sys, workers.vision.detector, pixels2posts.evaluation.detector_eval, pixels2posts.cli.models_detector;"
        "bad = [m for m in ('torch', 'ultralytics', 'open_clip') if m in sys.modules]; print(bad); "
        "raise SystemExit(1 if bad else 0)"
    )
    import subprocess

    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def _encode(rgb: np.ndarray, fmt: str) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, fmt, quality=95)
    return buffer.getvalue()
