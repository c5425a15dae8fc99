"""COCO transfer: dequantise the int8 YOLOv8n ONNX into an Ultralytics `yolov8n.yaml` model.

The ONNX has BatchNorm fused into each conv (weight int8 per-tensor, bias fp32). Each fused conv weight goes into
`conv.weight`; its BN becomes a pass-through (gamma=1, beta=fused bias, mean=0, var=1-eps) so the model computes the
same function and can still be trained. With `nc=80` every weight transfers (the check on bus.jpg); with another
`nc` the class branch (`model.22.cv3`, whose width depends on nc: 64 for 10 classes, 80 for COCO) is left freshly
initialised and everything else (backbone, neck, box branch cv2) comes from COCO.

    python -m training.detector.coco_transfer --onnx ../shared/weights/yolov8n-coco-int8.onnx --nc 10 \
        --calibrate ../shared/data/colorful-fashion/train/images --out .devdata/yolov8n-coco-10cls.pt
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import numpy_helper

from shared.vocab import GARMENT_LABELS


def dequantised_weights(onnx_path: Path) -> dict[str, np.ndarray]:
    """Every conv of the ONNX as float weights/biases, keyed by the Ultralytics parameter name."""
    model = onnx.load(str(onnx_path))
    tensors = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    weights: dict[str, np.ndarray] = {}
    for name, value in tensors.items():
        if name.endswith(".weight_quantized"):
            stem = name[: -len("_quantized")]
            scale = np.float32(tensors[f"{stem}_scale"])
            zero = tensors[f"{stem}_zero_point"].astype(np.int32)
            weights[stem] = ((value.astype(np.int32) - zero) * scale).astype(np.float32)
        elif name.endswith(".bias") and value.dtype == np.float32:
            weights[name] = value.astype(np.float32)
    return weights


def build_model(nc: int, names: tuple[str, ...] | None = None) -> Any:
    from ultralytics.nn.tasks import DetectionModel

    model = DetectionModel("yolov8n.yaml", nc=nc, verbose=False)
    model.names = dict(enumerate(names)) if names else {i: str(i) for i in range(nc)}
    return model


def load_fused_weights(model: Any, weights: dict[str, np.ndarray]) -> tuple[list[str], list[str]]:
    """Copy fused conv weights into `model`; returns (loaded parameter names, skipped ONNX names)."""
    import torch

    state = model.state_dict()
    loaded: list[str] = []
    skipped: list[str] = []
    for name, value in weights.items():
        if name.startswith("model.22.dfl") or name.endswith(".conv.bias"):
            continue  # DFL is a fixed arange; a fused conv bias goes into its BN below
        tensor = torch.from_numpy(value)
        if name not in state or state[name].shape != tensor.shape:
            skipped.append(name)
            continue
        state[name] = tensor
        loaded.append(name)
        if name.endswith(".conv.weight"):
            prefix = name[: -len("conv.weight")]
            _pass_through_bn(state, prefix, weights.get(f"{prefix}conv.bias"), len(value))
    model.load_state_dict(state)
    return loaded, skipped


def _pass_through_bn(state: dict[str, Any], prefix: str, bias: np.ndarray | None, channels: int) -> None:
    import torch

    eps = 1e-3  # Ultralytics' BatchNorm2d eps
    state[f"{prefix}bn.weight"] = torch.ones(channels)
    state[f"{prefix}bn.bias"] = torch.from_numpy(bias) if bias is not None else torch.zeros(channels)
    state[f"{prefix}bn.running_mean"] = torch.zeros(channels)
    state[f"{prefix}bn.running_var"] = torch.full((channels,), 1.0 - eps)


def calibrate_batchnorm(model: Any, batch: Any) -> int:
    """Un-fuse BN from data: per conv, gamma=std and beta=bias+mean of the conv output on `batch`.

    With pass-through BN the model is exact only in eval mode; in train mode BN normalises by batch statistics and
    the COCO features would be rescaled. Setting gamma=sqrt(var+eps), beta=b+mean, running stats=(mean, var) keeps
    eval mode exact and makes train mode start from (nearly) the same function. Returns the number of BN layers set.
    """
    import torch
    from ultralytics.nn.modules import Conv

    stats: dict[Any, tuple[Any, Any]] = {}

    def record(module: Any, inputs: Any, output: Any) -> None:
        flat = output.detach().transpose(0, 1).reshape(output.shape[1], -1).double()
        stats[module] = (flat.mean(1), flat.var(1))

    convs = [m for m in model.modules() if isinstance(m, Conv)]
    hooks = [m.conv.register_forward_hook(record) for m in convs]
    model.float().eval()
    with torch.no_grad():
        model(batch)
    for hook in hooks:
        hook.remove()
    for module in convs:
        mean, var = stats[module.conv]
        bn: Any = module.bn
        with torch.no_grad():
            bn.bias.copy_((bn.bias.double() + mean).float())
            bn.weight.copy_(torch.sqrt(var + bn.eps).float())
            bn.running_mean.copy_(mean.float())
            bn.running_var.copy_(var.float())
    return len(convs)


def calibration_batch(image_dir: Path, count: int = 32, size: int = 640) -> Any:
    """`count` images of `image_dir`, stretched to size x size, as a float tensor in [0, 1]."""
    import torch
    from PIL import Image

    paths = sorted(p for p in image_dir.iterdir() if p.suffix.lower() in {".jpg", ".jpeg", ".png", ".webp"})[:count]
    if not paths:
        raise SystemExit(f"no calibration images in {image_dir}")
    arrays = [np.asarray(Image.open(p).convert("RGB").resize((size, size)), dtype=np.float32) / 255.0 for p in paths]
    return torch.from_numpy(np.stack(arrays).transpose(0, 3, 1, 2).copy())


def transferred_model(
    onnx_path: Path, nc: int, names: tuple[str, ...] | None = None, calibration_dir: Path | None = None
) -> tuple[Any, list[str]]:
    model = build_model(nc, names)
    _, skipped = load_fused_weights(model, dequantised_weights(onnx_path))
    if calibration_dir is not None:
        calibrate_batchnorm(model, calibration_batch(calibration_dir))
    return model, skipped if nc == 80 else [s for s in skipped if not s.startswith("model.22.cv3.")]


def save_checkpoint(model: Any, out: Path) -> None:
    """A checkpoint Ultralytics' `YOLO(path)` and trainer accept (fp16 weights, as Ultralytics saves them)."""
    import torch

    out.parent.mkdir(parents=True, exist_ok=True)
    model.args = {"imgsz": 640}
    torch.save(
        {"model": model.half(), "train_args": {}, "epoch": -1, "date": None, "version": "coco-int8-transfer"}, out
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--onnx", type=Path, required=True, help="e.g. ../shared/weights/yolov8n-coco-int8.onnx")
    parser.add_argument("--nc", type=int, default=len(GARMENT_LABELS))
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument(
        "--calibrate",
        type=Path,
        default=None,
        help="image folder whose statistics un-fuse BatchNorm (else BN is a pass-through)",
    )
    args = parser.parse_args(argv)
    names = GARMENT_LABELS if args.nc == len(GARMENT_LABELS) else None
    model, skipped = transferred_model(args.onnx, args.nc, names, args.calibrate)
    if skipped:
        raise SystemExit(f"weights not transferred: {skipped}")
    save_checkpoint(model, args.out)
    print(f"saved {args.out} (nc={args.nc})")


if __name__ == "__main__":
    main()
