"""Small heads on frozen EfficientNet-Lite0 features: garment type, gender, fabric, and a retrieval projection.

The projection (1280 -> 256, L2-normalised) is trained with cosine-softmax losses on type, gender and fabric so that
nearest neighbours share those labels (what the index vote needs); the heads are plain linear layers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from shared.vocab import FABRICS, GENDERS
from workers.vision.garment_types import GARMENT_TYPES

EMBED_DIM = 256
COSINE_SCALE = 16.0
HEADS: dict[str, tuple[str, ...]] = {"garment": GARMENT_TYPES, "gender": GENDERS, "fabric": FABRICS}


class Heads(nn.Module):
    """features [B,1280] -> embedding [B,256] (L2-normalised) and one logit vector per head."""

    temperatures: torch.Tensor

    def __init__(self, in_dim: int = 1280, dropout: float = 0.2) -> None:
        super().__init__()
        self.drop = nn.Dropout(dropout)
        self.project = nn.Linear(in_dim, EMBED_DIM)
        self.heads = nn.ModuleDict({name: nn.Linear(in_dim, len(vocab)) for name, vocab in HEADS.items()})
        # cosine classifiers on the embedding (training only: they shape the neighbourhoods)
        self.prototypes = nn.ParameterDict({name: nn.Parameter(torch.randn(len(vocab), EMBED_DIM) * 0.05)
                                            for name, vocab in HEADS.items()})
        # logits are divided by these (1 while training; `fit_temperatures` sets them on calibration rows)
        self.register_buffer("temperatures", torch.ones(len(HEADS)))

    def load_state_dict(self, state: Mapping[str, Any], strict: bool = True, assign: bool = False) -> Any:
        # heads saved before temperature scaling existed answer with temperature 1
        state = {"temperatures": torch.ones(len(HEADS)), **state}
        return super().load_state_dict(state, strict, assign)

    def forward(self, features: torch.Tensor) -> dict[str, torch.Tensor]:
        x = self.drop(features)
        out = {"embedding": nn.functional.normalize(self.project(x), dim=1)}
        out.update({name: head(x) / self.temperatures[n] for n, (name, head) in enumerate(self.heads.items())})
        return out

    def cosine_logits(self, embedding: torch.Tensor, name: str) -> torch.Tensor:
        return COSINE_SCALE * embedding @ nn.functional.normalize(self.prototypes[name], dim=1).T


def fit_temperatures(model: Heads, features: np.ndarray, targets: dict[str, np.ndarray]) -> dict[str, float]:
    """Temperature scaling per head (Guo et al. 2017): the T minimising the negative log-likelihood of the labelled
    rows given (calibration rows, never trained on; a head without labelled rows keeps 1). A fine-tuned backbone makes
    the heads near-certain on every row, right or wrong; scaled, the gates and thresholds above 0.9 separate them
    again. Sets and returns them."""
    grid = np.exp(np.linspace(np.log(0.5), np.log(20.0), 60))
    model.temperatures.fill_(1.0)
    with torch.no_grad():
        out = model.eval()(torch.from_numpy(features.astype(np.float32)))
        chosen = []
        for name in HEADS:
            known = torch.from_numpy(targets[name] >= 0)
            if not bool(known.any()):
                chosen.append(1.0)
                continue
            logits, y = out[name][known], torch.from_numpy(targets[name])[known]
            nll = [float(nn.functional.cross_entropy(logits / t, y)) for t in grid]
            chosen.append(float(grid[int(np.argmin(nll))]))
        model.temperatures.copy_(torch.tensor(chosen))
    return dict(zip(HEADS, chosen, strict=True))


def encode(values: Sequence[str | None], vocab: Sequence[str]) -> np.ndarray:
    """Label strings -> class ids (-100 for unknown: ignored by the loss)."""
    index = {v: i for i, v in enumerate(vocab)}
    return np.asarray([index.get(v, -100) if v is not None else -100 for v in values], np.int64)


@dataclass
class TrainConfig:
    epochs: int = 60
    lr: float = 2e-3
    weight_decay: float = 1e-3
    batch: int = 256
    seed: int = 0
    balance: float = 0.5   # class weights = (1/frequency) ** balance (gender: 80 % women)


def _class_weights(targets: np.ndarray, classes: int, balance: float) -> torch.Tensor:
    counts = np.bincount(targets[targets >= 0], minlength=classes).astype(np.float64)
    if not counts.any():  # no labelled row (a head the rows say nothing about): the loss is never computed
        return torch.zeros(classes, dtype=torch.float32)
    weights = np.where(counts > 0, (counts.sum() / np.maximum(counts, 1)) ** balance, 0.0)
    weights = weights / max(weights[counts > 0].mean(), 1e-9)
    return torch.tensor(weights, dtype=torch.float32)


def train_heads(features: np.ndarray, targets: dict[str, np.ndarray], config: TrainConfig) -> Heads:
    """Fit all heads jointly (rows without a label for a head are ignored by that head's loss)."""
    torch.manual_seed(config.seed)
    model = Heads(features.shape[1])
    x = torch.from_numpy(features.astype(np.float32))
    y = {name: torch.from_numpy(t) for name, t in targets.items()}
    losses = {name: nn.CrossEntropyLoss(weight=_class_weights(t, len(HEADS[name]), config.balance),
                                        ignore_index=-100) for name, t in targets.items()}
    plain = nn.CrossEntropyLoss(ignore_index=-100)
    optimiser = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    steps = config.epochs * ((len(x) + config.batch - 1) // config.batch)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, config.lr, total_steps=steps)
    generator = torch.Generator().manual_seed(config.seed)
    model.train()
    for _ in range(config.epochs):
        order = torch.randperm(len(x), generator=generator)
        for start in range(0, len(x), config.batch):
            rows = order[start:start + config.batch]
            out = model(x[rows])
            loss = torch.zeros(())
            for name in HEADS:
                target = y[name][rows]
                if (target >= 0).any():
                    loss = loss + losses[name](out[name], target)
                    loss = loss + 0.5 * plain(model.cosine_logits(out["embedding"], name), target)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
    return model.eval()


def predict(model: Heads, features: np.ndarray) -> dict[str, np.ndarray]:
    """Embeddings and softmax probabilities per head, for a feature matrix."""
    with torch.no_grad():
        out = model(torch.from_numpy(features.astype(np.float32)))
    result = {"embedding": out["embedding"].numpy()}
    result.update({name: out[name].softmax(1).numpy() for name in HEADS})
    return result
