"""The bundled product index from the cached features (no second pass of 10k images through the backbone).

    python -m training.tower.build_index RUN_DIR MODEL_DIR OUT_DIR [SIZE]
Vectors: the heads' projection of the cached pooled features of the H&M train-split products (what
`pixels2posts index build ../shared/data/hm-catalog --split train` computes through image.onnx, up to the float16
weights: `parity` below measures the difference on a sample). Labels, calibration and the similarity profile are
written by the same code as the command's.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import torch

from pixels2posts.catalog.build import create_index
from pixels2posts.catalog.reader import read_hm_articles
from shared.images import load_image
from shared.settings import get_settings
from training.tower.features import SHARED
from training.tower.heads import Heads, predict
from training.tower.train import load
from workers.vision.embedder import ClipEmbedder
from workers.vision.retrieval import fit_calibration


def build(run: Path, model_dir: Path, out: Path, size: int) -> dict[str, Any]:
    rows, features = load(run, size)
    heads = Heads()
    heads.load_state_dict(torch.load(run / "heads.pt", map_location="cpu", weights_only=True))
    by_id = {item.id: item for item in read_hm_articles(SHARED / "hm-catalog")}
    picked = [n for n, r in enumerate(rows) if r["source"] == "hm" and r["split"] in ("train", "calib")]
    items = [by_id[rows[n]["key"]] for n in picked]
    vectors = predict(heads.eval(), features[picked])["embedding"]
    embedder = ClipEmbedder(get_settings(), image_path=model_dir / "image.onnx")
    onnx_vectors = embedder.embed_images([load_image(i.image).rgb for i in items[:32]])
    parity = float((onnx_vectors * vectors[:32]).sum(1).min())

    def calibrate(index: Any) -> dict[str, Any]:
        labels = [index.item(r) for r in range(index.count)]
        return fit_calibration(labels, index.vectors(), index.search, get_settings().top_k)

    index = create_index(out, vectors, items, embedder.version, calibrate=calibrate,
                         source="hm-catalog split=train (vectors from cached features, training/tower)")
    return {"count": index.count, "version": index.version, "min_cosine_onnx_vs_cached": parity,
            "similarity": index.manifest.get("similarity")}


if __name__ == "__main__":
    print(json.dumps(build(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]),
                           int(sys.argv[4]) if len(sys.argv) > 4 else 192), indent=1))
