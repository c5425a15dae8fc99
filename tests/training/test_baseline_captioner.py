"""The BLIP fine-tuning path with a tiny random-initialised config and a word-level tokenizer (no downloads)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("transformers", reason="the train extra installs transformers")
pytestmark = pytest.mark.train

TEXTS = ["black jacket in wool", "white dress in cotton", "blue jeans in denim", "red skirt in satin"] * 2


def _processor(tmp_path: Path):  # type: ignore[no-untyped-def]
    import transformers
    from transformers import BertTokenizerFast, BlipImageProcessor, BlipProcessor

    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *sorted({w for t in TEXTS for w in t.split()})]
    if int(transformers.__version__.split(".")[0]) >= 5:
        tokenizer = BertTokenizerFast(vocab={w: i for i, w in enumerate(words)})
    else:
        vocab = tmp_path / "vocab.txt"
        vocab.write_text("\n".join(words) + "\n")
        tokenizer = BertTokenizerFast(vocab_file=str(vocab))
    image_processor = BlipImageProcessor(size={"height": 32, "width": 32})
    return BlipProcessor(image_processor=image_processor, tokenizer=tokenizer), tokenizer


def test_given_a_tiny_blip_when_fine_tuned_then_the_loss_falls_and_it_captions(tmp_path: Path) -> None:
    import torch
    from PIL import Image

    from training.baseline_captioner.blip import fine_tune, predict, tiny_model

    torch.manual_seed(0)
    processor, tokenizer = _processor(tmp_path)
    colours = {"black": (0, 0, 0), "white": (255, 255, 255), "blue": (0, 0, 255), "red": (255, 0, 0)}
    images = [Image.new("RGB", (40, 40), colours[t.split()[0]]) for t in TEXTS]
    model = tiny_model(len(tokenizer), tokenizer.pad_token_id, tokenizer.cls_token_id, tokenizer.sep_token_id)
    losses = fine_tune(model, processor, images, TEXTS, epochs=40, batch_size=8, lr=3e-3)
    assert losses[-1] < 0.5 * losses[0]
    captions = predict(model, processor, images[:4], max_new_tokens=6)
    assert len(captions) == 4 and all(isinstance(c, str) for c in captions)
    assert sum(c.split()[:1] == t.split()[:1] for c, t in zip(captions, TEXTS, strict=False)) >= 3
