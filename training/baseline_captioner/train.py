"""Train the end-to-end baseline captioner: frozen EfficientNet-Lite0 features -> GRU decoder -> H&M descriptions.

    nice -n 10 python -m training.baseline_captioner.train ../shared/data/hm-catalog --out models/baseline \
        --minutes 15

Steps: export the encoder, extract features of the train-split images with it (cached under
training/runs/baseline), train the decoder with teacher forcing (Adam, cross-entropy, a validation fold of train
products for the best epoch, a wall-clock bound), export one decoder step to ONNX, write vocab.json and
training.json. Never reads test-split products.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from training.baseline_captioner import data
from training.baseline_captioner.encoder import FEATURES, IMAGE_SIZE, OPSET, export_encoder

RUNS = Path("training/runs/baseline")


class Decoder(nn.Module):
    """GRU whose every step sees the projected image features next to the previous token's embedding."""

    def __init__(self, vocab: int, embed: int = 192, hidden: int = 384, features: int = FEATURES) -> None:
        super().__init__()
        self.hidden_size = hidden
        self.embed = nn.Embedding(vocab, embed)
        self.image = nn.Sequential(nn.Dropout(0.2), nn.Linear(features, embed), nn.Tanh())
        self.gru = nn.GRU(2 * embed, hidden, batch_first=True)
        self.drop = nn.Dropout(0.2)
        self.out = nn.Linear(hidden, vocab)

    def forward(self, features: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """Teacher forcing: logits [N,T,V] for next tokens given tokens [N,T]."""
        image = self.image(features).unsqueeze(1).expand(-1, tokens.shape[1], -1)
        output, _ = self.gru(torch.cat([self.embed(tokens), image], dim=2))
        return self.out(self.drop(output))


class DecoderStep(nn.Module):
    def __init__(self, decoder: Decoder) -> None:
        super().__init__()
        self.decoder = decoder

    def forward(self, features: torch.Tensor, token: torch.Tensor,
                hidden: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        d = self.decoder
        step = torch.cat([d.embed(token), d.image(features)], dim=1).unsqueeze(1)
        output, new_hidden = d.gru(step, hidden.unsqueeze(0))
        return d.out(output[:, 0]), new_hidden[0]


def _is_validation(article: str) -> bool:
    return int(hashlib.sha1(f"baseline-val:{article}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF < 0.05


def _loss(model: Decoder, features: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    logits = model(features, tokens[:, :-1])
    return nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), tokens[:, 1:].reshape(-1),
                                       ignore_index=0)


def train_decoder(features: np.ndarray, tokens: np.ndarray, validation: np.ndarray, vocab: int, minutes: float,
                  epochs: int, batch: int = 64, seed: int = 0) -> tuple[Decoder, list[dict[str, float]]]:
    torch.manual_seed(seed)
    model = Decoder(vocab)
    optimiser = torch.optim.Adam(model.parameters(), lr=2e-3)
    x, y = torch.from_numpy(features), torch.from_numpy(tokens)
    train_rows, val_rows = np.flatnonzero(~validation), np.flatnonzero(validation)
    history: list[dict[str, float]] = []
    best: tuple[float, dict[str, Any]] | None = None
    deadline = time.monotonic() + minutes * 60
    rng = np.random.default_rng(seed)
    for epoch in range(epochs):
        model.train()
        losses = []
        order = rng.permutation(train_rows)
        for start in range(0, len(order), batch):
            rows = torch.from_numpy(order[start : start + batch])
            optimiser.zero_grad()
            loss = _loss(model, x[rows], y[rows])
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            optimiser.step()
            losses.append(float(loss))
        model.eval()
        with torch.no_grad():
            val_loss = float(_loss(model, x[val_rows], y[val_rows])) if len(val_rows) else float("nan")
        history.append({"epoch": epoch + 1, "train_loss": float(np.mean(losses)), "val_loss": val_loss})
        print(json.dumps(history[-1]), flush=True)
        if best is None or val_loss < best[0]:
            best = (val_loss, {k: v.clone() for k, v in model.state_dict().items()})
        if time.monotonic() > deadline:
            break
    if best is not None:
        model.load_state_dict(best[1])
    return model.eval(), history


def export_decoder(model: Decoder, out: Path) -> Path:
    step = DecoderStep(model).eval()
    args = (torch.zeros(1, FEATURES), torch.zeros(1, dtype=torch.long), torch.zeros(1, model.hidden_size))
    torch.onnx.export(step, args, str(out), input_names=["features", "token", "hidden"],
                      output_names=["logits", "new_hidden"],
                      dynamic_axes={n: {0: "n"} for n in ("features", "token", "hidden", "logits", "new_hidden")},
                      opset_version=OPSET, dynamo=False)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("catalog", type=Path, help="H&M catalogue folder (articles.csv + images/)")
    parser.add_argument("--out", type=Path, default=Path("models/baseline"))
    parser.add_argument("--minutes", type=float, default=15.0, help="wall-clock bound for decoder training")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--limit", type=int, default=None, help="first N train pairs only (smoke runs)")
    parser.add_argument("--min-count", type=int, default=3)
    parser.add_argument("--vocab", type=int, default=2500)
    args = parser.parse_args(argv)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    args.out.mkdir(parents=True, exist_ok=True)
    RUNS.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    encoder = export_encoder(args.out / "encoder.onnx")
    pairs = data.train_pairs(args.catalog, args.limit)
    cache = RUNS / f"features-{len(pairs)}-{hashlib.sha256(encoder.read_bytes()).hexdigest()[:12]}.npy"
    if cache.is_file():
        features = np.load(cache)
    else:
        features = data.extract_features(encoder, [p.image for p in pairs], IMAGE_SIZE)
        np.save(cache, features)
    print(f"features {features.shape} after {time.monotonic() - started:.0f}s", flush=True)
    tokens_list = data.build_vocab([p.text for p in pairs], args.min_count, args.vocab)
    index = {t: i for i, t in enumerate(tokens_list)}
    tokens = data.padded([data.encode(p.text, index) for p in pairs])
    validation = np.array([_is_validation(p.article) for p in pairs])
    model, history = train_decoder(features, tokens, validation, len(tokens_list), args.minutes, args.epochs)
    export_decoder(model, args.out / "decoder.onnx")
    version = "baseline-" + hashlib.sha256((args.out / "decoder.onnx").read_bytes()).hexdigest()[:10]
    (args.out / "vocab.json").write_text(json.dumps({
        "version": version, "tokens": tokens_list, "bos": index["<bos>"], "eos": index["<eos>"],
        "image_size": IMAGE_SIZE, "hidden": model.hidden_size}))
    (args.out / "training.json").write_text(json.dumps({
        "pairs": len(pairs), "validation_pairs": int(validation.sum()), "vocab": len(tokens_list),
        "parameters": sum(p.numel() for p in model.parameters()), "history": history,
        "seconds": round(time.monotonic() - started, 1)}, indent=2))
    print(f"wrote {args.out} ({version}) in {time.monotonic() - started:.0f}s", flush=True)


if __name__ == "__main__":
    main()
