"""Export any open_clip model + checkpoint to our ONNX layout (image.onnx, text.onnx; dynamic batch) and check
ONNX-vs-torch parity. See workers/vision/embedder.py for the layout and metadata the runtime reads."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

from training.clip.config import P2P_CLIP_MODEL, register_p2p_config

OPSET = 17


class _Tower(torch.nn.Module):
    """One of CLIP's two towers as a module of its own, so each exports to its own ONNX file."""

    def __init__(self, model: Any, tower: str) -> None:
        super().__init__()
        self.model = model
        self.encode = getattr(model, f"encode_{tower}")  # encode_image or encode_text

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.encode(inputs)


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def load_model(model_name: str, checkpoint: Path | None) -> tuple[Any, Any, dict[str, Any]]:
    """(model in eval mode, tokenizer, preprocessing facts) for an open_clip model name + checkpoint file."""
    import open_clip

    if model_name == P2P_CLIP_MODEL:
        register_p2p_config()
    model = open_clip.create_model(model_name, pretrained=str(checkpoint) if checkpoint else None,
                                   pretrained_text=checkpoint is None)
    model.eval()
    cfg = model.visual.preprocess_cfg if hasattr(model.visual, "preprocess_cfg") else {}
    size = model.visual.image_size
    facts = {
        "image_size": int(size[0] if isinstance(size, tuple | list) else size),
        "mean": list(cfg.get("mean", open_clip.OPENAI_DATASET_MEAN)),
        "std": list(cfg.get("std", open_clip.OPENAI_DATASET_STD)),
        # ours was trained on letterboxed product shots; other open_clip models expect shortest-side + crop
        "resize_mode": "longest" if model_name == P2P_CLIP_MODEL else "shortest",
        "fill": 255,
    }
    return model, open_clip.get_tokenizer(model_name), facts


def _export(module: torch.nn.Module, example: torch.Tensor, path: Path, input_name: str) -> None:
    torch.onnx.export(
        module, (example,), str(path), input_names=[input_name], output_names=["embedding"],
        dynamic_axes={input_name: {0: "batch"}, "embedding": {0: "batch"}}, opset_version=OPSET, dynamo=False,
    )


def set_metadata(path: Path, metadata: dict[str, str]) -> None:
    """Replace an ONNX file's metadata (the runtime reads model version and preprocessing from it)."""
    import onnx

    model = onnx.load(str(path))
    del model.metadata_props[:]
    for key, value in metadata.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(model, str(path))


def export_clip(model_name: str, checkpoint: Path | None, out_dir: Path, text: bool = True) -> dict[str, Any]:
    """Write out_dir/image.onnx (+ text.onnx and tokenizer.json for HF tokenizers); returns a parity report."""
    model, tokenizer, facts = load_model(model_name, checkpoint)
    out_dir.mkdir(parents=True, exist_ok=True)
    version = f"{model_name}-{file_digest(checkpoint)[:10]}" if checkpoint else f"{model_name}-random"
    size = facts["image_size"]
    image_example = torch.randn(2, 3, size, size)
    with torch.no_grad():
        embed_dim = int(model.encode_image(image_example).shape[-1])
    context_length = int(getattr(tokenizer, "context_length", 77))
    common = {"version": version, "model": model_name, "embed_dim": str(embed_dim),
              "image_size": str(size), "mean": json.dumps(facts["mean"]), "std": json.dumps(facts["std"]),
              "resize_mode": facts["resize_mode"], "fill": str(facts["fill"]),
              "context_length": str(context_length)}
    _export(_Tower(model, "image"), image_example, out_dir / "image.onnx", "image")
    set_metadata(out_dir / "image.onnx", common)
    report: dict[str, Any] = {"version": version, "image": parity(model, out_dir / "image.onnx", "image",
                                                                      torch.randn(3, 3, size, size))}
    if text:
        tokens = tokenizer(["a black cotton t-shirt", "blue denim jeans for men", "a red dress"])
        hf_tokenizer = getattr(tokenizer, "tokenizer", None)
        kind = "hf" if hf_tokenizer is not None else "open_clip-bpe"
        _export(_Tower(model, "text"), tokens[:2], out_dir / "text.onnx", "tokens")
        set_metadata(out_dir / "text.onnx", {**common, "tokenizer": kind})
        if hf_tokenizer is not None and hasattr(hf_tokenizer, "backend_tokenizer"):
            hf_tokenizer.backend_tokenizer.save(str(out_dir / "tokenizer.json"))
        report["text"] = parity(model, out_dir / "text.onnx", "tokens", tokens)
    report["files"] = {p.name: p.stat().st_size for p in sorted(out_dir.iterdir())}
    return report


def parity(model: Any, onnx_path: Path, input_name: str, example: torch.Tensor) -> dict[str, float]:
    """Max |onnx - torch| and the lowest cosine between the two embeddings of each example."""
    import onnxruntime as ort

    model.eval()  # the TorchScript exporter may leave modules in training mode
    with torch.no_grad():
        expected = (model.encode_image(example) if input_name == "image" else model.encode_text(example)).numpy()
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    got = session.run(None, {input_name: example.numpy()})[0]
    cos = (got * expected).sum(1) / (np.linalg.norm(got, axis=1) * np.linalg.norm(expected, axis=1))
    return {"max_abs_diff": float(np.abs(got - expected).max()), "min_cosine": float(cos.min())}


def copy_for_commit(src: Path, dst: Path, names: tuple[str, ...] = ("image.onnx", "tokenizer.json")) -> None:
    dst.mkdir(parents=True, exist_ok=True)
    for name in names:
        if (src / name).is_file():
            shutil.copy2(src / name, dst / name)
