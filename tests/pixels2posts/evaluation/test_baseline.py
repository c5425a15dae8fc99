"""The end-to-end baseline captioner: ONNX export parity, and the committed model captioning real product photos."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pixels2posts.evaluation.baseline import DEFAULT_DIR, BaselineCaptioner, _repeats, detokenize, tokenize
from tests.conftest import SAMPLE_PHOTOS


def test_given_a_description_then_tokens_round_trip_to_sentences() -> None:
    tokens = tokenize("Jacket in woven fabric with a 100% cotton lining. Long sleeves, and a collar.")
    assert tokens[:3] == ["jacket", "in", "woven"] and "100" in tokens and "%" in tokens
    assert detokenize(tokens) == "Jacket in woven fabric with a 100% cotton lining. Long sleeves, and a collar."


def test_given_a_repeated_trigram_then_it_is_blocked() -> None:
    assert _repeats([1, 2, 3, 1, 2], 3)
    assert not _repeats([1, 2, 3, 1, 2], 4)


@pytest.mark.slow
def test_given_real_photos_then_the_committed_baseline_writes_descriptions() -> None:
    model = BaselineCaptioner(DEFAULT_DIR)
    captions = [model.caption_file(path) for path in sorted(SAMPLE_PHOTOS.glob("*.jpg"))[:4]]  # committed CC0
    assert all(len(c.split()) >= 4 and c.endswith(".") for c in captions), captions
    vocabulary = set(model.tokens)
    assert all(set(tokenize(c)) <= vocabulary for c in captions)
    assert len(set(captions)) >= 2  # the image matters


@pytest.mark.train
def test_given_a_decoder_when_exported_then_one_onnx_step_matches_torch(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    import onnxruntime as ort

    from training.baseline_captioner.train import Decoder, DecoderStep, export_decoder

    torch.manual_seed(0)
    decoder = Decoder(vocab=50, embed=16, hidden=24).eval()
    path = export_decoder(decoder, tmp_path / "decoder.onnx")
    features = np.random.default_rng(0).normal(size=(3, 1280)).astype(np.float32)
    token = np.array([1, 5, 7], dtype=np.int64)
    hidden = np.random.default_rng(1).normal(size=(3, 24)).astype(np.float32)
    logits, new_hidden = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(
        None, {"features": features, "token": token, "hidden": hidden})
    with torch.no_grad():
        want_logits, want_hidden = DecoderStep(decoder)(torch.from_numpy(features), torch.from_numpy(token),
                                                        torch.from_numpy(hidden))
    np.testing.assert_allclose(logits, want_logits.numpy(), atol=1e-4)
    np.testing.assert_allclose(new_hidden, want_hidden.numpy(), atol=1e-5)
