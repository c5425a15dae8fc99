"""Fine-tune the top of EfficientNet-Lite0 (stages 6-7 and the 1x1 head conv, or 5-7) on cached activations.

A full fine-tune on 2 CPU cores is out of reach; the bottom of the network (stem to stage 5, stride 16, about 80 % of
its FLOPs) stays ImageNet-frozen, so its output is computed once per image and cached, and each epoch runs only the
top (about 3 M parameters at 6x6 positions for 192 px). Horizontal flips of the cached maps are the augmentation.
`--split=8` caches stage 4 instead (80x12x12 maps at 192 px) and tunes stage 5 too (about 60 % more work per epoch).

    python -m training.tower.finetune trunk RUN [SIZE] [--split=B]  # RUN/trunk{SIZE}.npy + rows.jsonl (one pass)
    python -m training.tower.finetune tune RUN OUT [SIZE] [--epochs=N] [--clothing-weight=W] [--leave-out-shift]
                                                           [--split=B]
`tune` trains on train rows only, keeps the epoch with the best calibration-fold type accuracy, and writes OUT/
backbone.pt (the whole backbone, tuned top included), OUT/features{SIZE}.npy (pooled features of every row through
the tuned top) and OUT/rows.jsonl: OUT then goes through `train`, `export` and `build_index` as a RUN of frozen
features does. Test rows are reported, never selected on.
"""

from __future__ import annotations

import copy
import json
import shutil
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from training.tower.backbone import FEATURE_DIM, EfficientNetLite0, load_pretrained
from training.tower.data import Row, clothing_rows, hm_rows, load_square
from training.tower.features import SHARED, normalise
from training.tower.heads import HEADS, _class_weights
from training.tower.train import HELD_OUT_SECTIONS, SPORT_GENDER, garment_report, load_rows, targets

SPLIT_BLOCK = 11   # blocks[:11] = stages 1-5 (frozen, cached); blocks[11:] = stages 6-7 (tuned)
STAGE_4_END = 8    # --split=8: stages 1-4 frozen, 5-7 tuned


def trunk_file(run: Path, size: int, split: int = SPLIT_BLOCK) -> Path:
    return run / (f"trunk{size}.npy" if split == SPLIT_BLOCK else f"trunk{size}-b{split}.npy")


def trunk(model: EfficientNetLite0, x: torch.Tensor, split: int = SPLIT_BLOCK) -> torch.Tensor:
    return nn.Sequential(*list(model.blocks)[:split])(model.stem(x))


class Top(nn.Module):
    """Cached maps (after stage 5, or stage 4 with --split=8) -> pooled features -> training-time heads (the runtime
    heads are refit afterwards)."""

    def __init__(self, model: EfficientNetLite0, dropout: float = 0.2, split: int = SPLIT_BLOCK) -> None:
        super().__init__()
        self.blocks = copy.deepcopy(nn.Sequential(*list(model.blocks)[split:]))
        self.head = copy.deepcopy(model.head)
        self.drop = nn.Dropout(dropout)
        self.heads = nn.ModuleDict({name: nn.Linear(FEATURE_DIM, len(vocab)) for name, vocab in HEADS.items()})

    def features(self, maps: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(maps)).mean((2, 3))

    def forward(self, maps: torch.Tensor) -> dict[str, torch.Tensor]:
        x = self.drop(self.features(maps))
        return {name: head(x) for name, head in self.heads.items()}


def extract_trunk(run: Path, size: int, split: int = SPLIT_BLOCK) -> None:
    write_trunk(run, clothing_rows(SHARED / "clothing-photos") + hm_rows(SHARED / "hm-catalog"), size, split=split)


def write_trunk(run: Path, rows: list[Row], size: int, batch: int = 32, split: int = SPLIT_BLOCK) -> None:
    """RUN/rows.jsonl and RUN's trunk file: every row's maps after block `split` (float16, memory-mapped)."""
    torch.set_num_threads(2)
    run.mkdir(parents=True, exist_ok=True)
    (run / "rows.jsonl").write_text("".join(json.dumps(asdict(r)) + "\n" for r in rows))
    model = load_pretrained()
    channels = list(model.blocks)[split - 1].project[0].out_channels
    maps = np.lib.format.open_memmap(trunk_file(run, size, split), mode="w+", dtype=np.float16,
                                     shape=(len(rows), channels, size // 16, size // 16))
    start = time.time()
    for i in range(0, len(rows), batch):
        squares = np.stack([load_square(r.path, size) for r in rows[i:i + batch]])
        with torch.no_grad():
            maps[i:i + len(squares)] = trunk(model, normalise(squares), split).numpy()
        if i % (batch * 20) == 0:
            print(f"{i + len(squares)}/{len(rows)} {time.time() - start:.0f}s", flush=True)
    maps.flush()
    print(f"done {len(rows)} rows in {time.time() - start:.0f}s", flush=True)


@dataclass
class TuneConfig:
    epochs: int = 8
    lr_top: float = 3e-4
    lr_heads: float = 2e-3
    weight_decay: float = 1e-2
    batch: int = 64
    clothing_weight: int = 3     # clothing-photos train rows appear this many times per epoch (12 % of rows else)
    leave_out_shift: bool = False  # no held-out H&M section nor Sport row (the domain-shift report's backbone)
    balance: float = 0.5
    seed: int = 0
    split: int = SPLIT_BLOCK     # blocks[:split] frozen and cached, the rest tuned


def type_accuracy(rows: list[dict[str, Any]], garment: np.ndarray, train_y: np.ndarray) -> dict[str, float]:
    """Top-1 garment type per source ("clothing", "hm"), as `train.garment_report` measures it."""
    return {source: part["type_acc"] for source, part in garment_report(rows, garment, train_y).items()}


def _run_top(top: Top, maps: np.ndarray, rows: np.ndarray, batch: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Pooled features and garment probabilities of `rows` (eval mode)."""
    top.eval()
    feats, garment = [], []
    with torch.no_grad():
        for start in range(0, len(rows), batch):
            x = torch.from_numpy(maps[rows[start:start + batch]].astype(np.float32))
            f = top.features(x)
            feats.append(f.numpy())
            garment.append(top.heads["garment"](f).softmax(1).numpy())
    return np.concatenate(feats), np.concatenate(garment)


def tune(run: Path, out: Path, size: int, config: TuneConfig) -> dict[str, Any]:
    torch.set_num_threads(2)
    torch.manual_seed(config.seed)
    rows = load_rows(run)
    maps = np.load(trunk_file(run, size, config.split), mmap_mode="r")
    maps = np.ascontiguousarray(maps)   # ~0.5 GB: random batches from RAM
    split = np.asarray([r["split"] for r in rows])
    y = {name: torch.from_numpy(t) for name, t in targets(rows).items()}
    clothing = np.asarray([r["source"] == "clothing" for r in rows])
    shifted = np.asarray([r["section"] in HELD_OUT_SECTIONS or r["section"] in SPORT_GENDER for r in rows])
    train = np.flatnonzero((split == "train") & ~(shifted & config.leave_out_shift))
    train_y = y["garment"].numpy()[train]
    epoch_rows = np.concatenate([train] + [train[clothing[train]]] * (config.clothing_weight - 1))
    pretrained = load_pretrained()
    top = Top(pretrained, split=config.split)
    losses = {name: nn.CrossEntropyLoss(weight=_class_weights(t.numpy()[train], len(HEADS[name]), config.balance),
                                        ignore_index=-100) for name, t in y.items()}
    weights = {"garment": 1.0, "gender": 0.5, "fabric": 0.5}
    optimiser = torch.optim.AdamW([
        {"params": [*top.blocks.parameters(), *top.head.parameters()], "lr": config.lr_top},
        {"params": top.heads.parameters(), "lr": config.lr_heads}], weight_decay=config.weight_decay)
    steps = config.epochs * ((len(epoch_rows) + config.batch - 1) // config.batch)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, [config.lr_top, config.lr_heads], total_steps=steps,
                                                   pct_start=0.15)
    generator = torch.Generator().manual_seed(config.seed)
    calib = np.flatnonzero((split == "calib") & ~(shifted & config.leave_out_shift))
    history: list[dict[str, Any]] = []
    best: tuple[float, dict[str, Any]] | None = None
    for epoch in range(config.epochs):
        top.train()
        started = time.time()
        order = epoch_rows[torch.randperm(len(epoch_rows), generator=generator).numpy()]
        total = 0.0
        for start in range(0, len(order), config.batch):
            picked = order[start:start + config.batch]
            x = torch.from_numpy(maps[picked].astype(np.float32))
            flip = torch.rand(len(picked), generator=generator) < 0.5
            x[flip] = x[flip].flip(3)
            logits = top(x)
            loss = torch.zeros(())
            for name, weight in weights.items():
                target = y[name][torch.from_numpy(picked)]
                if (target >= 0).any():
                    loss = loss + weight * losses[name](logits[name], target)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            total += float(loss.detach()) * len(picked)
        _, garment = _run_top(top, maps, calib)
        accuracy = type_accuracy([rows[n] for n in calib], garment, train_y)
        record = {"epoch": epoch + 1, "loss": total / len(order), "calib_type": accuracy,
                  "seconds": round(time.time() - started, 1)}
        history.append(record)
        print(json.dumps(record), flush=True)
        score = (accuracy.get("clothing", 0.0) + accuracy.get("hm", 0.0)) / 2
        if best is None or score > best[0]:
            best = (score, copy.deepcopy(top.state_dict()))
    assert best is not None
    top.load_state_dict(best[1])
    return save(top, pretrained, rows, maps, run, out, size, train_y,
                {"config": asdict(config), "history": history}, config.split)


def save(top: Top, backbone: EfficientNetLite0, rows: list[dict[str, Any]], maps: np.ndarray, run: Path, out: Path,
         size: int, train_y: np.ndarray, report: dict[str, Any], split: int = SPLIT_BLOCK) -> dict[str, Any]:
    out.mkdir(parents=True, exist_ok=True)
    backbone.blocks = nn.Sequential(*list(backbone.blocks)[:split], *top.blocks)
    backbone.head = top.head
    torch.save(backbone.state_dict(), out / "backbone.pt")
    features, garment = _run_top(top, maps, np.arange(len(rows)))
    np.save(out / f"features{size}.npy", features.astype(np.float16))
    shutil.copyfile(run / "rows.jsonl", out / "rows.jsonl")
    for part in ("test", "calib"):
        picked = [n for n, r in enumerate(rows) if r["split"] == part]
        report[f"{part}_type"] = type_accuracy([rows[n] for n in picked], garment[picked], train_y)
    (out / "finetune.json").write_text(json.dumps(report, indent=1))
    return report


def load_tuned(run: Path) -> EfficientNetLite0 | None:
    """The tuned backbone of a fine-tuned RUN, or None for a RUN of frozen features."""
    path = run / "backbone.pt"
    if not path.is_file():
        return None
    model = EfficientNetLite0()
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return model.eval()


def _option(name: str, default: int) -> int:
    return next((int(a.split("=", 1)[1]) for a in sys.argv if a.startswith(f"--{name}=")), default)


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if args[0] == "trunk":
        extract_trunk(Path(args[1]), int(args[2]) if len(args) > 2 else 192, _option("split", SPLIT_BLOCK))
    else:
        tuned = TuneConfig(epochs=_option("epochs", 8), clothing_weight=_option("clothing-weight", 3),
                           leave_out_shift="--leave-out-shift" in sys.argv, split=_option("split", SPLIT_BLOCK))
        print(json.dumps(tune(Path(args[1]), Path(args[2]), int(args[3]) if len(args) > 3 else 192, tuned),
                         indent=1))
