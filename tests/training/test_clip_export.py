"""`pixels2posts models export-clip`: any open_clip checkpoint -> our ONNX layout, with ONNX-vs-torch parity."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from pixels2posts.cli import cli
from workers.vision.embedder import ClipEmbedder

pytestmark = [pytest.mark.train, pytest.mark.slow]


def test_given_a_random_init_vit_b_32_checkpoint_when_exported_then_onnx_matches_torch(tmp_path: Path) -> None:
    import open_clip
    import torch

    torch.manual_seed(0)
    model = open_clip.create_model("ViT-B-32")
    checkpoint = tmp_path / "vit-b-32-random.pt"
    torch.save({"state_dict": model.state_dict()}, checkpoint)
    out = tmp_path / "onnx"

    result = CliRunner().invoke(cli, ["models", "export-clip", "--model", "ViT-B-32", "--checkpoint",
                                      str(checkpoint), "--out", str(out)])

    assert result.exit_code == 0, result.output
    report = json.loads(result.output[result.output.index("{"):])
    assert report["image"]["min_cosine"] > 0.9999 and report["text"]["min_cosine"] > 0.9999
    assert {"image.onnx", "text.onnx"} <= set(report["files"])

    # the runtime reads the exported tower like the bundled one: preprocessing from metadata, dynamic batch
    embedder = ClipEmbedder(image_path=out / "image.onnx")
    assert (embedder.image_size, embedder.dim, embedder.meta["resize_mode"]) == (224, 512, "shortest")
    crops = [np.random.default_rng(n).integers(0, 256, (300, 200, 3), dtype=np.uint8) for n in range(3)]
    batched = embedder.embed_images(crops)
    with torch.no_grad():
        expected = model.encode_image(torch.from_numpy(np.stack([embedder.preprocess(c) for c in crops])))
    expected = torch.nn.functional.normalize(expected, dim=-1).numpy()
    np.testing.assert_allclose(batched, expected, atol=1e-4)


def test_our_model_exports_both_towers_and_text_runs_without_torch_tokenizer(tmp_path: Path) -> None:
    """Our LCNet+MiniLM model from a random-init checkpoint: the HF tokenizer travels as tokenizer.json."""
    import open_clip
    import torch

    from training.clip.config import P2P_CLIP_MODEL, register_p2p_config

    name = register_p2p_config()
    model = open_clip.create_model(name)
    checkpoint = tmp_path / "p2p.pt"
    torch.save({"state_dict": model.state_dict()}, checkpoint)
    result = CliRunner().invoke(cli, ["models", "export-clip", "--model", P2P_CLIP_MODEL, "--checkpoint",
                                      str(checkpoint), "--out", str(tmp_path / "onnx")])
    assert result.exit_code == 0, result.output
    embedder = ClipEmbedder(image_path=tmp_path / "onnx/image.onnx", text_path=tmp_path / "onnx/text.onnx")
    texts = ["a black cotton t-shirt", "blue denim jeans"]
    got = embedder.embed_texts(texts)
    tokenizer = open_clip.get_tokenizer(name)
    model.eval()
    with torch.no_grad():
        expected = torch.nn.functional.normalize(model.encode_text(tokenizer(texts)), dim=-1).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-4)
