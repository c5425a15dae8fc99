"""Fine-tune BLIP (the paper's baseline) on H&M train-split images -> descriptions, for users who have the weights.

    python -m training.baseline_captioner.blip ../shared/data/hm-catalog --weights PATH/blip-image-captioning-base \
        --out training/runs/blip --epochs 1

`--weights` is a local copy of Salesforce/blip-image-captioning-base (nothing is downloaded here). The same code is
tested with a tiny random-initialised `BlipConfig` and a word-level tokenizer
(tests/training/test_baseline_captioner.py).
Predictions for a catalogue-schema CSV: `predict(model, processor, images)`; the ONNX GRU baseline stays the one
`--system baseline` runs, since BLIP weights are not shipped.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from PIL import Image


def tiny_model(vocab_size: int, pad: int, bos: int, sep: int, image_size: int = 32) -> Any:
    """A random-initialised BLIP captioner small enough for a unit test."""
    from transformers import BlipConfig, BlipForConditionalGeneration

    config = BlipConfig(
        vision_config={"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2,
                       "image_size": image_size, "patch_size": 8, "projection_dim": 32},
        text_config={"vocab_size": vocab_size, "hidden_size": 32, "encoder_hidden_size": 32, "intermediate_size": 64,
                     "num_hidden_layers": 1, "num_attention_heads": 2, "max_position_embeddings": 64,
                     "bos_token_id": bos, "pad_token_id": pad, "sep_token_id": sep, "eos_token_id": sep,
                     "projection_dim": 32},
        projection_dim=32, image_text_hidden_size=32,
    )
    return BlipForConditionalGeneration(config)


def load_pretrained(weights: Path) -> tuple[Any, Any]:
    from transformers import BlipForConditionalGeneration, BlipProcessor

    return (BlipForConditionalGeneration.from_pretrained(str(weights), local_files_only=True),
            BlipProcessor.from_pretrained(str(weights), local_files_only=True))


def _batch(processor: Any, images: Sequence[Image.Image], texts: Sequence[str], max_length: int) -> dict[str, Any]:
    encoded = processor(images=list(images), text=list(texts), return_tensors="pt", padding="longest",
                        truncation=True, max_length=max_length)
    labels = encoded["input_ids"].clone()
    labels[encoded["attention_mask"] == 0] = -100
    return {"pixel_values": encoded["pixel_values"], "input_ids": encoded["input_ids"],
            "attention_mask": encoded["attention_mask"], "labels": labels}


def fine_tune(model: Any, processor: Any, images: Sequence[Image.Image], texts: Sequence[str], epochs: int = 1,
              batch_size: int = 8, lr: float = 5e-5, minutes: float | None = None,
              max_length: int = 64) -> list[float]:
    """Teacher-forced language-modelling loss on (image, text) pairs; returns the loss of every step."""
    optimiser = torch.optim.AdamW(model.parameters(), lr=lr)
    deadline = time.monotonic() + minutes * 60 if minutes else None
    losses: list[float] = []
    model.train()
    for _ in range(epochs):
        for start in range(0, len(texts), batch_size):
            batch = _batch(processor, images[start : start + batch_size], texts[start : start + batch_size],
                           max_length)
            loss = model(**batch).loss
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            losses.append(float(loss.detach()))
            if deadline is not None and time.monotonic() > deadline:
                return losses
    return losses


@torch.no_grad()
def predict(model: Any, processor: Any, images: Sequence[Image.Image], max_new_tokens: int = 40) -> list[str]:
    model.eval()
    pixels = processor(images=list(images), return_tensors="pt")["pixel_values"]
    output = model.generate(pixel_values=pixels, max_new_tokens=max_new_tokens, num_beams=1)
    return [text.strip() for text in processor.batch_decode(output, skip_special_tokens=True)]


def main(argv: list[str] | None = None) -> None:
    from training.baseline_captioner.data import train_pairs

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("catalog", type=Path)
    parser.add_argument("--weights", type=Path, required=True, help="local blip-image-captioning-base folder")
    parser.add_argument("--out", type=Path, default=Path("training/runs/blip"))
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--minutes", type=float, default=None)
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args(argv)
    model, processor = load_pretrained(args.weights)
    pairs = train_pairs(args.catalog, args.limit)
    images = [Image.open(p.image).convert("RGB") for p in pairs]
    losses = fine_tune(model, processor, images, [p.text for p in pairs], args.epochs, minutes=args.minutes)
    model.save_pretrained(args.out)
    processor.save_pretrained(args.out)
    print(f"{len(losses)} steps, last loss {losses[-1]:.3f}; saved {args.out}")


if __name__ == "__main__":
    main()
