"""Contrastive training of our small open_clip model on the prepared H&M cache (CPU friendly).

The MiniLM text transformer is frozen: its mean-pooled outputs are computed once and cached, so an epoch only runs
the LCNet image tower plus the text projection. The saved checkpoint is a complete open_clip state dict.
"""

from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from training.clip.config import MEAN, STD, register_p2p_config

log = logging.getLogger(__name__)


def load_cache(cache_dir: Path) -> tuple[np.ndarray, list[dict[str, Any]]]:
    images = np.load(cache_dir / "images.npy", mmap_mode="r")
    meta = [json.loads(line) for line in (cache_dir / "meta.jsonl").read_text().splitlines()]
    return images, meta


@torch.no_grad()
def pooled_text_features(model: Any, tokenizer: Any, texts: list[str], batch: int = 256) -> torch.Tensor:
    """Frozen MiniLM mean-pooled features (before the trainable projection)."""
    text = model.text
    out = []
    for start in range(0, len(texts), batch):
        tokens = tokenizer(texts[start:start + batch])
        mask = (tokens != text.config.pad_token_id).long()
        hidden = text.transformer(input_ids=tokens, attention_mask=mask)
        out.append(text.pooler(hidden, mask))
    return torch.cat(out)


def to_input(batch_u8: np.ndarray, augment: bool) -> torch.Tensor:
    x = torch.from_numpy(np.ascontiguousarray(batch_u8)).permute(0, 3, 1, 2).float() / 255.0
    if augment:
        flip = torch.rand(x.shape[0]) < 0.5
        x[flip] = x[flip].flip(-1)
        # small random zoom-and-shift: detector crops are never perfectly framed
        size = x.shape[-1]
        pad = size // 8
        x = F.pad(x, (pad, pad, pad, pad), value=1.0)
        scale = float(np.random.uniform(0.8, 1.0))
        crop = int((size + 2 * pad) * scale)
        top, left = np.random.randint(0, size + 2 * pad - crop + 1, size=2)
        x = F.interpolate(x[:, :, top:top + crop, left:left + crop], size=(size, size), mode="bilinear",
                          align_corners=False)
    mean = torch.tensor(MEAN).view(1, 3, 1, 1)
    std = torch.tensor(STD).view(1, 3, 1, 1)
    return (x - mean) / std


@torch.no_grad()
def embed_split(model: Any, images: np.ndarray, index: np.ndarray, batch: int = 256) -> torch.Tensor:
    model.eval()
    out = [model.encode_image(to_input(images[index[s:s + batch]], False), normalize=True)
           for s in range(0, len(index), batch)]
    return torch.cat(out)


def recall_at(image_emb: torch.Tensor, text_emb: torch.Tensor, ks: tuple[int, ...] = (1, 5, 10)) -> dict[str, float]:
    sims = image_emb @ text_emb.T
    ranks = (sims > sims.diag().unsqueeze(1)).sum(1)
    return {f"i2t_R@{k}": float((ranks < k).float().mean()) for k in ks}


def cached_text_features(model: Any, tokenizer: Any, meta: list[dict[str, Any]], cache_dir: Path) -> torch.Tensor:
    path = cache_dir / "text_pooled.pt"
    if path.is_file():
        return torch.load(path)
    log.info("caching frozen text features for %d texts", len(meta))
    pooled = pooled_text_features(model, tokenizer, [m["text"] for m in meta])
    torch.save(pooled, path)
    return pooled


def label_targets(meta: list[dict[str, Any]], key: str, values: tuple[str, ...]) -> torch.Tensor:
    """Class ids for an auxiliary head; -100 (ignored) where the catalogue has no label."""
    return torch.tensor([values.index(m[key]) if m.get(key) in values else -100 for m in meta])


def train(cache_dir: Path, out_dir: Path, epochs: int = 12, batch_size: int = 128, lr: float = 2e-3,
          threads: int = 2, seed: int = 0, init: Path | None = None, aux_weight: float = 0.5) -> dict[str, Any]:
    """CLIP loss + (aux_weight x) cross-entropy of small gender/fabric heads on the image embedding: the heads
    are dropped at export, they only shape the embedding so that neighbours share gender and fabric."""
    import open_clip

    from shared.vocab import FABRICS, GENDERS

    torch.manual_seed(seed)
    np.random.seed(seed)
    torch.set_num_threads(threads)
    name = register_p2p_config()
    model = open_clip.create_model(name, pretrained_text=True)
    if init is not None:
        model.load_state_dict(torch.load(init, weights_only=True)["state_dict"])
    tokenizer = open_clip.get_tokenizer(name)
    images, meta = load_cache(cache_dir)
    train_idx = np.array([i for i, m in enumerate(meta) if m["split"] == "train"])
    test_idx = np.array([i for i, m in enumerate(meta) if m["split"] == "test"])
    pooled = cached_text_features(model, tokenizer, meta, cache_dir)
    genders, fabrics = label_targets(meta, "gender", GENDERS), label_targets(meta, "fabric", FABRICS)
    embed_dim = model.text.proj.out_features
    heads = torch.nn.ModuleDict({"gender": torch.nn.Linear(embed_dim, len(GENDERS)),
                                 "fabric": torch.nn.Linear(embed_dim, len(FABRICS))})
    for p in model.text.transformer.parameters():
        p.requires_grad = False
    params = [p for p in model.parameters() if p.requires_grad] + list(heads.parameters())
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.05)
    steps_per_epoch = len(train_idx) // batch_size
    total, warmup = epochs * steps_per_epoch, steps_per_epoch // 2
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * min(s, total) / total))
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    history = []
    for epoch in range(epochs):
        model.train()
        model.text.transformer.eval()
        started, losses = time.time(), []
        order = np.random.permutation(train_idx)
        for step in range(steps_per_epoch):
            idx = np.sort(order[step * batch_size:(step + 1) * batch_size])
            img = model.encode_image(to_input(images[idx], True), normalize=True)
            txt = F.normalize(model.text.proj(pooled[idx]), dim=-1)
            logits = model.logit_scale.exp().clamp(max=100) * img @ txt.T
            labels = torch.arange(len(idx))
            loss = (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2
            if aux_weight > 0:
                tid = torch.from_numpy(idx)
                for key, targets in (("gender", genders[tid]), ("fabric", fabrics[tid])):
                    if (targets >= 0).any():
                        loss = loss + aux_weight * F.cross_entropy(heads[key](img * 10), targets, ignore_index=-100)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            losses.append(float(loss))
        with torch.no_grad():
            test_txt = F.normalize(model.text.proj(pooled[test_idx]), dim=-1)
        metrics = recall_at(embed_split(model, images, test_idx), test_txt)
        record = {"epoch": epoch + 1, "loss": float(np.mean(losses)), "seconds": round(time.time() - started),
                  **metrics}
        history.append(record)
        log.info("%s", record)
        torch.save({"state_dict": model.state_dict(), "model": name, "epoch": epoch + 1, "metrics": record},
                   out_dir / "checkpoint.pt")
        (out_dir / "history.json").write_text(json.dumps(history, indent=1))
    return history[-1]
