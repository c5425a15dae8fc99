"""Training side (torch + Ultralytics): the COCO int8 transfer, and a tiny end-to-end fine-tune + export."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

pytestmark = [pytest.mark.train, pytest.mark.slow]
os.environ.setdefault("YOLO_OFFLINE", "1")


def bus_jpg() -> Path:
    import ultralytics

    return Path(ultralytics.__file__).parent / "assets" / "bus.jpg"


@pytest.fixture(scope="module")
def coco_onnx(shared_dir: Path) -> Path:
    return shared_dir / "weights" / "yolov8n-coco-int8.onnx"


def test_given_the_int8_coco_onnx_when_dequantised_into_80_classes_then_it_finds_people_and_the_bus(
    coco_onnx: Path, tmp_path: Path
) -> None:
    from ultralytics import YOLO

    from training.detector.coco_transfer import save_checkpoint, transferred_model

    model, skipped = transferred_model(coco_onnx, 80)
    assert skipped == []
    save_checkpoint(model, tmp_path / "coco80.pt")
    result = YOLO(str(tmp_path / "coco80.pt")).predict(str(bus_jpg()), verbose=False, device="cpu")[0]
    found = [(int(c), float(s)) for c, s in zip(result.boxes.cls, result.boxes.conf, strict=True)]
    assert sum(1 for c, s in found if c == 0 and s > 0.8) >= 3, found  # person
    assert any(c == 5 and s > 0.8 for c, s in found), found  # bus


def test_given_calibrated_batchnorm_when_run_in_eval_mode_then_outputs_equal_the_pass_through_model(
    coco_onnx: Path, shared_dir: Path
) -> None:
    import torch

    from training.detector.coco_transfer import calibration_batch, transferred_model

    images = shared_dir / "data" / "colorful-fashion" / "train" / "images"
    plain, _ = transferred_model(coco_onnx, 80)
    calibrated, _ = transferred_model(coco_onnx, 80, calibration_dir=images)
    batch = calibration_batch(images, count=2, size=320)
    with torch.no_grad():
        a = plain.float().eval()(batch)[0].numpy()
        b = calibrated.float().eval()(batch)[0].numpy()
    np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-2)
    assert not np.allclose(plain.model[0].bn.weight.detach().numpy(), calibrated.model[0].bn.weight.detach().numpy())


def test_given_a_few_train_images_when_fine_tuned_and_exported_then_the_runtime_detector_loads_it(
    coco_onnx: Path, shared_dir: Path, tmp_path: Path
) -> None:
    from shared.settings import Settings
    from training.detector import coco_transfer, export, prepare_data, train
    from workers.vision.detector import GarmentDetector

    data = tmp_path / "cf"
    prepare_data.main(
        [
            "--src",
            str(shared_dir / "data" / "colorful-fashion"),
            "--out",
            str(data),
            "--limit",
            "24",
            "--val-count",
            "8",
        ]
    )
    weights = tmp_path / "start.pt"
    coco_transfer.main(["--onnx", str(coco_onnx), "--out", str(weights), "--calibrate", str(data / "train" / "images")])
    train.main(
        [
            "--data",
            str(data),
            "--weights",
            str(weights),
            "--imgsz",
            "160",
            "--epochs",
            "1",
            "--batch",
            "8",
            "--workers",
            "0",
            "--project",
            str(tmp_path / "runs"),
            "--name",
            "smoke",
            "--out",
            str(tmp_path / "out"),
        ]
    )
    assert (tmp_path / "out" / "best.pt").is_file() and (tmp_path / "out" / "results.csv").is_file()
    onnx_path = tmp_path / "smoke.onnx"
    version = export.export(tmp_path / "out" / "best.pt", onnx_path, "fp32", imgsz=160)
    detector = GarmentDetector(onnx_path, Settings(ort_providers="cpu"))
    assert detector.version == version and detector.input_size == 160
    session = detector._model.session
    assert session.get_inputs()[0].shape[0] == "batch"
