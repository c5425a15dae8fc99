"""H&M train-split articles -> (image, description) pairs, the vocabulary, and cached encoder features.

Split: `pixels2posts.catalog.reader.split_of(product_code)`, the product-level split the index and the evaluation use;
only train-split products are read here, so no test product is ever trained on.
"""

from __future__ import annotations

import csv
import hashlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from pixels2posts.evaluation.baseline import letterbox, tokenize

SPECIALS = ("<pad>", "<bos>", "<eos>", "<unk>")
MAX_LEN = 40


@dataclass(frozen=True)
class Pair:
    article: str
    image: Path
    text: str


def train_pairs(catalog: Path, limit: int | None = None) -> list[Pair]:
    """One article per train-split product (colour variants share the description), in a stable hash order."""
    from pixels2posts.catalog.reader import split_of

    by_product: dict[str, Pair] = {}
    with (catalog / "articles.csv").open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            article = row["article_id"].zfill(10)
            image = catalog / "images" / article[:3] / f"{article}.jpg"
            if split_of(row["product_code"]) == "train" and row["detail_desc"].strip() and image.is_file():
                pair = Pair(article, image, row["detail_desc"].strip())
                if row["product_code"] not in by_product or article < by_product[row["product_code"]].article:
                    by_product[row["product_code"]] = pair
    pairs = sorted(by_product.values(), key=lambda p: hashlib.sha1(p.article.encode()).hexdigest())
    return pairs[:limit] if limit else pairs


def build_vocab(texts: list[str], min_count: int, max_size: int) -> list[str]:
    counts = Counter(token for text in texts for token in tokenize(text))
    kept = [t for t, c in counts.most_common(max_size - len(SPECIALS)) if c >= min_count]
    return list(SPECIALS) + kept


def encode(text: str, index: dict[str, int]) -> list[int]:
    unk = index["<unk>"]
    ids = [index.get(token, unk) for token in tokenize(text)][: MAX_LEN - 1]
    return [index["<bos>"], *ids, index["<eos>"]]


def padded(sequences: list[list[int]]) -> np.ndarray:
    out = np.zeros((len(sequences), max(len(s) for s in sequences)), dtype=np.int64)
    for row, sequence in enumerate(sequences):
        out[row, : len(sequence)] = sequence
    return out


def extract_features(encoder_onnx: Path, images: list[Path], size: int, batch: int = 32) -> np.ndarray:
    """Pooled features of every image through the exported (quantised) encoder."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(encoder_onnx), providers=["CPUExecutionProvider"])
    chunks = []
    for start in range(0, len(images), batch):
        stack = np.stack([letterbox(Image.open(path), size) for path in images[start : start + batch]])
        chunks.append(session.run(None, {"image": stack})[0])
    return np.concatenate(chunks).astype(np.float32)
