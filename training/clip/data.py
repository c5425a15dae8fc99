"""Prepare the H&M catalogue for CLIP training once: letterboxed uint8 images, texts, product-level splits."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from pixels2posts.catalog.reader import CatalogItem, read_hm_articles, split_of
from shared.images import load_image
from workers.vision.embedder import letterbox


def _first_sentence(text: str, limit: int = 120) -> str:
    sentence = text.split(". ")[0].strip().rstrip(".")
    return sentence[:limit]


def product_text(item: CatalogItem, colour_group: str = "") -> str:
    """Training caption: name, type, colour, pattern, fabric, audience, and a short piece of the description."""
    audience = {"women": "women's", "men": "men's", "kids": "kids'"}.get(item.gender or "", "")
    parts = [
        item.title,
        " ".join(p for p in (audience, colour_group.lower() or item.colour or "", item.pattern or "",
                             item.fabric or "", item.category or "") if p),
        _first_sentence(item.description),
    ]
    return ". ".join(p for p in parts if p)


def prepare(catalog_dir: Path, out_dir: Path, size: int) -> dict[str, int]:
    """Write images.npy (N, size, size, 3 uint8), meta.jsonl (id, group, split, text, labels) into out_dir."""
    import csv

    items = read_hm_articles(catalog_dir)
    with (catalog_dir / "articles.csv").open(newline="", encoding="utf-8") as handle:
        colour_groups = {row["article_id"].zfill(10): row["colour_group_name"] for row in csv.DictReader(handle)}
    out_dir.mkdir(parents=True, exist_ok=True)
    images = np.lib.format.open_memmap(out_dir / "images.tmp.npy", mode="w+", dtype=np.uint8,
                                       shape=(len(items), size, size, 3))
    with (out_dir / "meta.jsonl").open("w", encoding="utf-8") as meta:
        for n, item in enumerate(items):
            images[n] = letterbox(load_image(item.image).rgb, size)
            meta.write(json.dumps({
                "id": item.id, "group": item.group, "split": split_of(item.group),
                "text": product_text(item, colour_groups.get(item.id, "")), **item.labels(),
            }) + "\n")
    images.flush()
    del images
    (out_dir / "images.tmp.npy").rename(out_dir / "images.npy")
    counts = {"items": len(items)}
    return counts


if __name__ == "__main__":
    import sys

    print(prepare(Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])))
