"""CLIP image (and text) embeddings from ONNX towers: batched onnxruntime sessions, no torch.

ONNX layout (written by `pixels2posts models export-clip`, the same for our model and any open_clip model):
    models/clip/image.onnx  input `image` [B, 3, S, S] float32 (normalised)  -> output `embedding` [B, D]
    models/clip/text.onnx   input `tokens` [B, L] int64                        -> output `embedding` [B, D]
metadata (custom_metadata_map): version, model, image_size, mean, std, resize_mode, fill, embed_dim,
    context_length, tokenizer (for text). Embeddings are L2-normalised here, so inner product = cosine.
An image tower with heads (training/tower: EfficientNet-Lite0 + heads) has further outputs, one probability vector
per head (`garment`, `gender`, `fabric`), named with their vocabularies in metadata `heads`, and the heads' answer
thresholds in metadata `thresholds`; `analyse_images` returns them with the embeddings.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from shared.errors import ModelNotAvailableError
from shared.onnx_session import OrtModel
from shared.settings import Settings, get_settings
from workers.vision.prep import map_indices
from workers.vision.resize import Resizable, fill_outside, pixels, resize_bilinear, resize_to_planes, write_planes

IMAGE_ONNX = "clip/image.onnx"
TEXT_ONNX = "clip/text.onnx"


def letterbox_shape(height: int, width: int, size: int) -> tuple[int, int, int, int]:
    """(height, width, top, left) of an image of `height` x `width` resized so its longest side is `size`, in the
    size x size square."""
    if height == 0 or width == 0:
        raise ValueError("cannot letterbox an empty image")
    scale = size / max(height, width)
    new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
    return new_h, new_w, (size - new_h) // 2, (size - new_w) // 2


def letterbox_window(rgb: np.ndarray, size: int) -> tuple[np.ndarray, int, int]:
    """The crop resized so its longest side is `size`, and its (top, left) in the size x size square."""
    new_h, new_w, top, left = letterbox_shape(rgb.shape[0], rgb.shape[1], size)
    return resize_bilinear(rgb, new_w, new_h), top, left


def letterbox(rgb: np.ndarray, size: int, fill: int = 255, out: np.ndarray | None = None) -> np.ndarray:
    """Resize the longest side to `size` and pad to a square of `fill` (the garment keeps its shape); written into
    `out` (size x size x 3 uint8) when given, filling only the padding."""
    resized, top, left = letterbox_window(rgb, size)
    new_h, new_w = resized.shape[:2]
    canvas = np.empty((size, size, 3), dtype=np.uint8) if out is None else out
    canvas[:top] = fill
    canvas[top + new_h:] = fill
    canvas[top:top + new_h, :left] = fill
    canvas[top:top + new_h, left + new_w:] = fill
    canvas[top:top + new_h, left:left + new_w] = resized
    return canvas


def center_crop(rgb: np.ndarray, size: int) -> np.ndarray:
    """open_clip's default: resize the shortest side to `size`, crop the centre square."""
    height, width = rgb.shape[:2]
    scale = size / min(height, width)
    new_w, new_h = max(size, round(width * scale)), max(size, round(height * scale))
    resized = np.asarray(Image.fromarray(rgb).resize((new_w, new_h), Image.Resampling.BICUBIC))
    top, left = (new_h - size) // 2, (new_w - size) // 2
    return resized[top:top + size, left:left + size]


def l2_normalise(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)


@dataclass(frozen=True)
class ImageAnalysis:
    """Embeddings [N, D] and, for towers with heads, probabilities [N, classes] per head."""

    embeddings: np.ndarray
    heads: dict[str, np.ndarray] = field(default_factory=dict)


class ClipEmbedder:
    """Batched image embeddings (and text embeddings when the text tower and its tokenizer are present)."""

    def __init__(self, settings: Settings | None = None, image_path: Path | None = None,
                 text_path: Path | None = None) -> None:
        self._settings = settings or get_settings()
        self.image_model = OrtModel(
            image_path or self._settings.model_file(self._settings.clip_image_path, IMAGE_ONNX), self._settings
        )
        self.text_path = text_path or self._settings.model_file(self._settings.clip_text_path, TEXT_ONNX)
        self._text_model: OrtModel | None = None

    @property
    def meta(self) -> dict[str, str]:
        return self.image_model.metadata

    @property
    def version(self) -> str:
        return self.meta.get("version", self.image_model.path.stem)

    @functools.cached_property
    def image_size(self) -> int:
        return int(self.meta.get("image_size", 224))

    @property
    def dim(self) -> int:
        return int(self.meta["embed_dim"])

    @functools.cached_property
    def _normalisation(self) -> tuple[np.ndarray, np.ndarray]:
        """(scale, shift) per channel: (x / 255 - mean) / std == x * scale + shift, in one fused pass."""
        meta = self.meta
        mean = np.asarray(json.loads(meta.get("mean", "[0.48145466, 0.4578275, 0.40821073]")), np.float32)
        std = np.asarray(json.loads(meta.get("std", "[0.26862954, 0.26130258, 0.27577711]")), np.float32)
        return (1 / (255 * std))[:, None, None], (-mean / std)[:, None, None]

    @functools.cached_property
    def _resize(self) -> tuple[bool, int]:
        """(letterbox rather than centre crop, letterbox fill), from the metadata read once."""
        return self.meta.get("resize_mode", "longest") == "longest", int(self.meta.get("fill", 255))

    def prepare(self, crops: Sequence[Resizable]) -> np.ndarray:
        """Crops -> the normalised [N, 3, S, S] float32 batch: each crop resized, then scaled and shifted straight
        into its planes (the same float32 values as normalising the uint8 square in one numpy pass)."""
        size = self.image_size
        batch = np.empty((len(crops), 3, size, size), np.float32)
        planes_scale, planes_shift = self._normalisation  # (3, 1, 1) each
        scale, shift = planes_scale.reshape(3), planes_shift.reshape(3)
        longest, fill = self._resize
        filled = np.multiply(np.full((3, 1, 1), fill, np.uint8), planes_scale) + planes_shift

        def one(i: int) -> None:
            if not longest:  # open_clip's centre crop (a tower exported with resize_mode "shortest")
                write_planes(center_crop(pixels(crops[i]), size), batch[i], scale, shift)
                return
            new_h, new_w, top, left = letterbox_shape(crops[i].shape[0], crops[i].shape[1], size)
            fill_outside(batch[i], top, left, new_h, new_w, filled)
            resize_to_planes(crops[i], batch[i], top, left, new_h, new_w, scale, shift)

        map_indices(one, len(crops), self._settings.ort_threads_per_session)
        return batch

    def preprocess(self, rgb: np.ndarray) -> np.ndarray:
        """One HxWx3 uint8 crop -> 3xSxS float32, exactly as the model was trained/exported."""
        return self.prepare([rgb])[0]

    def infer(self, batch: np.ndarray) -> np.ndarray:
        """Raw (not normalised) embeddings of a prepared batch."""
        return np.asarray(self.image_model.run({"image": batch}, ["embedding"])[0])

    @functools.cached_property
    def _heads(self) -> dict[str, tuple[str, ...]]:
        return {k: tuple(v) for k, v in json.loads(self.meta.get("heads", "{}")).items()}

    @property
    def head_vocabularies(self) -> dict[str, list[str]]:
        """Head name -> class names (empty for a plain CLIP tower); the metadata is parsed once."""
        return {k: list(v) for k, v in self._heads.items()}

    @functools.cached_property
    def _thresholds(self) -> dict[str, float]:
        return {k: float(v) for k, v in json.loads(self.meta.get("thresholds", "{}")).items()}

    @property
    def head_thresholds(self) -> dict[str, float]:
        return dict(self._thresholds)

    def analyse_images(self, crops: Sequence[Resizable], batch_size: int = 64) -> ImageAnalysis:
        """Embeddings (L2-normalised) and head probabilities of RGB crops (arrays, or windows of Pictures), run in
        batches of `batch_size`."""
        names = list(self.head_vocabularies)
        if not crops:
            return ImageAnalysis(np.zeros((0, self.dim), np.float32),
                                 {n: np.zeros((0, len(v)), np.float32) for n, v in self.head_vocabularies.items()})
        embeddings, heads = [], {name: [] for name in names}  # type: ignore[var-annotated]
        for start in range(0, len(crops), batch_size):
            batch = self.prepare(crops[start:start + batch_size])
            outputs = self.image_model.run({"image": batch}, ["embedding", *names])
            embeddings.append(outputs[0])
            for name, probs in zip(names, outputs[1:], strict=True):
                heads[name].append(probs)
        return ImageAnalysis(l2_normalise(np.concatenate(embeddings)),
                             {name: np.concatenate(parts).astype(np.float32) for name, parts in heads.items()})

    def embed_images(self, crops: Sequence[np.ndarray], batch_size: int = 64) -> np.ndarray:
        """L2-normalised embeddings [N, D] of RGB crops, one session call per `batch_size` crops."""
        if not crops:
            return np.zeros((0, self.dim), np.float32)
        out = [self.infer(self.prepare(crops[start:start + batch_size]))
               for start in range(0, len(crops), batch_size)]
        return l2_normalise(np.concatenate(out))

    def _tokenize(self, texts: Sequence[str], context_length: int) -> np.ndarray:
        tokenizer_file = self.text_path.parent / "tokenizer.json"
        if not tokenizer_file.is_file():
            raise ModelNotAvailableError(f"text tokenizer not found: {tokenizer_file}")
        from tokenizers import Tokenizer  # optional: only text embedding needs it

        tokenizer = Tokenizer.from_file(str(tokenizer_file))
        tokenizer.enable_truncation(context_length)
        tokenizer.enable_padding(length=context_length, pad_id=0)
        return np.asarray([enc.ids for enc in tokenizer.encode_batch(list(texts))], dtype=np.int64)

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised text embeddings [N, D] (HF-tokenizer text towers such as our MiniLM one)."""
        if self._text_model is None:
            self._text_model = OrtModel(self.text_path, self._settings)
        context_length = int(self._text_model.metadata.get("context_length", 64))
        tokens = self._tokenize(texts, context_length)
        return l2_normalise(self._text_model.run({"tokens": tokens})[0])
