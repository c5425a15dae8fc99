"""A stand-in vision stage for the system tests while `workers.vision.pipeline.VisionPipeline` is not there:
the same interface, one real batched ONNX Runtime call per batch (a tiny model: the mean colour of each image),
evidence packs that pass the schema. Like a detector finding nothing, it refuses an all-black photo:
the batch raises, which lets tests check that one bad image fails only its own job.
P2P_TEST_VISION_SLEEP_S makes each batch after the worker's warm-up take that long (a worker to kill mid-task)."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from shared.errors import InvalidImageError
from shared.images import DecodedImage
from shared.onnx_session import OrtModel
from shared.schemas import Attribute, Attributes, Colour, EvidencePack, Garment, ImageInfo
from shared.settings import Settings, get_settings

SIDE = 32
BLACK = 4.0
PALETTE = {"black": (20, 20, 20), "white": (235, 235, 235), "grey": (128, 128, 128), "red": (200, 30, 30),
           "green": (40, 150, 60), "blue": (40, 70, 190), "beige": (215, 195, 160), "brown": (120, 80, 40)}


def mean_colour_model(path: Path) -> Path:
    """Write an ONNX model: image [N, 3, S, S] float32 -> mean [N, 3] (ReduceMean over H and W)."""
    import onnx
    from onnx import TensorProto, helper

    axes = helper.make_tensor("axes", TensorProto.INT64, [2], [2, 3])
    node = helper.make_node("ReduceMean", ["image", "axes"], ["mean"], keepdims=0)
    graph = helper.make_graph(
        [node], "mean_colour",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, SIDE, SIDE])],
        [helper.make_tensor_value_info("mean", TensorProto.FLOAT, ["N", 3])],
        initializer=[axes],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def nearest_colour(rgb: np.ndarray) -> str:
    return min(PALETTE, key=lambda name: float(np.sum((np.array(PALETTE[name]) - rgb) ** 2)))


class MeanColourPipeline:
    min_side = 64

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or get_settings()
        path = mean_colour_model(Path(tempfile.mkdtemp(prefix="p2p-stand-in-")) / "mean_colour.onnx")
        self.model = OrtModel(path, self.settings)
        self.batches = 0

    def evidence_batch(self, images: Sequence[DecodedImage]) -> list[EvidencePack]:
        batch = np.stack([
            np.asarray(Image.fromarray(image.rgb).resize((SIDE, SIDE)), dtype=np.float32).transpose(2, 0, 1)
            for image in images
        ])
        (means,) = self.model.run({"image": batch})
        self.batches += 1
        if self.batches > 1:
            time.sleep(float(os.environ.get("P2P_TEST_VISION_SLEEP_S", "0")))
        if float(means.max(axis=1).min()) < BLACK:
            raise InvalidImageError("no garment found in an all-black photo")
        return [self._pack(image, mean) for image, mean in zip(images, means, strict=True)]

    def _pack(self, image: DecodedImage, mean: np.ndarray) -> EvidencePack:
        rgb = tuple(round(float(v)) for v in mean)
        colour = Colour(name=nearest_colour(mean), rgb=(rgb[0], rgb[1], rgb[2]), share=1.0)
        garment = Garment(label="dress", score=0.9, box=(0.0, 0.0, float(image.width), float(image.height)),
                          colours=[colour])
        unknown = Attribute(value=None, confidence=0.0)
        return EvidencePack(
            image=ImageInfo(sha256=image.sha256, width=image.width, height=image.height),
            garments=[garment], attributes=Attributes(gender=unknown, fabric=unknown),
            models={"stand-in-mean-colour": "1"},
        )
