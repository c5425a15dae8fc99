"""Export a trained detector checkpoint to ONNX: dynamic batch (and image) axes, opset 17, our metadata.

    python -m training.detector.export --weights training/runs/gpu-h100/best.pt \
        --out models/detector/garments-yolov8n.onnx [--precision fp32|fp16|int8]

fp16 converts the fp32 graph's weights and compute (inputs/outputs stay float32); int8 is ONNX Runtime's dynamic
weight quantisation. The model card says which was shipped and what each costs in mAP.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import shutil
import tempfile
from pathlib import Path

import onnx

OPSET = 17
IMGSZ = 640


def export_fp32(weights: Path, out: Path, imgsz: int = IMGSZ) -> Path:
    from ultralytics import YOLO

    with tempfile.TemporaryDirectory() as tmp:
        local = Path(tmp) / "model.pt"
        shutil.copyfile(weights, local)
        exported = YOLO(str(local)).export(
            format="onnx", dynamic=True, opset=OPSET, imgsz=imgsz, simplify=True, batch=1, device="cpu"
        )
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(exported, out)
    return out


def to_fp16(path: Path, out: Path) -> Path:
    from onnxruntime.transformers.float16 import convert_float_to_float16

    model = convert_float_to_float16(onnx.load(str(path)), keep_io_types=True)
    onnx.save(model, str(out))
    return out


def to_int8(path: Path, out: Path) -> Path:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(path), str(out), weight_type=QuantType.QInt8)
    return out


def stamp_metadata(path: Path, weights: Path, precision: str) -> str:
    """Adds `model_version` (yolov8n-garments-<date>-<precision>-<weights hash>) and `precision`."""
    model = onnx.load(str(path))
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()[:8]
    version = f"yolov8n-garments-{dt.date.today():%Y%m%d}-{precision}-{digest}"
    entries = {p.key: p.value for p in model.metadata_props}
    entries.update({"model_version": version, "precision": precision, "opset": str(OPSET)})
    del model.metadata_props[:]
    for key, value in entries.items():
        model.metadata_props.add(key=key, value=value)
    onnx.save(model, str(path))
    return version


def export(weights: Path, out: Path, precision: str = "fp32", imgsz: int = IMGSZ) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = export_fp32(weights, Path(tmp) / "fp32.onnx", imgsz)
        if precision == "fp16":
            to_fp16(fp32, out)
        elif precision == "int8":
            to_int8(fp32, out)
        else:
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(fp32, out)
    return stamp_metadata(out, weights, precision)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=Path("models/detector/garments-yolov8n.onnx"))
    parser.add_argument("--precision", choices=["fp32", "fp16", "int8"], default="fp32")
    parser.add_argument("--imgsz", type=int, default=IMGSZ)
    args = parser.parse_args(argv)
    version = export(args.weights, args.out, args.precision, args.imgsz)
    print(f"wrote {args.out} ({args.out.stat().st_size / 2**20:.1f} MiB), version {version}")


if __name__ == "__main__":
    main()
