"""CLIP training end to end on a tiny H&M subset: cache, frozen text features, one epoch, a loadable checkpoint."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

pytestmark = [pytest.mark.train, pytest.mark.slow]


def _tiny_catalogue(shared_dir: Path, out: Path, rows: int = 48) -> Path:
    source = shared_dir / "data/hm-catalog"
    with (source / "articles.csv").open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        picked = [row for _, row in zip(range(rows), reader, strict=False)]
        fields = reader.fieldnames
    assert fields is not None
    with (out / "articles.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(picked)
    for row in picked:
        article = row["article_id"].zfill(10)
        target = out / "images" / article[:3] / f"{article}.jpg"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(source / "images" / article[:3] / f"{article}.jpg")
    return out


def test_given_a_tiny_catalogue_when_trained_one_epoch_then_checkpoint_and_metrics(
        shared_dir: Path, tmp_path: Path) -> None:
    import torch

    from training.clip.config import IMAGE_SIZE
    from training.clip.data import prepare
    from training.clip.export import load_model
    from training.clip.train import train

    catalogue = _tiny_catalogue(shared_dir, tmp_path)
    cache = tmp_path / "cache"
    assert prepare(catalogue, cache, IMAGE_SIZE) == {"items": 48}
    meta = [json.loads(line) for line in (cache / "meta.jsonl").read_text().splitlines()]
    assert all(m["text"] and m["split"] in ("train", "test") for m in meta)

    record = train(cache, tmp_path / "run", epochs=1, batch_size=16, threads=1)

    assert record["epoch"] == 1 and record["loss"] > 0 and 0 <= record["i2t_R@10"] <= 1
    assert (cache / "text_pooled.pt").is_file()
    model, _, facts = load_model("p2p-lcnet-minilm", tmp_path / "run/checkpoint.pt")
    with torch.no_grad():
        assert model.encode_image(torch.zeros(2, 3, IMAGE_SIZE, IMAGE_SIZE)).shape == (2, 256)
    assert facts["resize_mode"] == "longest"
