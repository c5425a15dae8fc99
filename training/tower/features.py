"""Frozen pooled EfficientNet-Lite0 features of every training image, computed once and cached (.npy + rows).

    python -m training.tower.features OUT_DIR [SIZE] [START]   (nice it: ~15k images on a shared CPU)
START resumes an interrupted run: rows from START on go to features{SIZE}.from{START}.npy, which `merge` appends.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from training.tower.backbone import IMAGENET_MEAN, IMAGENET_STD, load_pretrained
from training.tower.data import clothing_rows, hm_rows, load_square

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def normalise(batch: np.ndarray) -> torch.Tensor:
    x = batch.astype(np.float32) / 255.0
    x = (x - np.asarray(IMAGENET_MEAN, np.float32)) / np.asarray(IMAGENET_STD, np.float32)
    return torch.from_numpy(x.transpose(0, 3, 1, 2).copy())


def extract(out: Path, size: int, start_row: int = 0, batch: int = 32) -> None:
    torch.set_num_threads(2)
    rows = clothing_rows(SHARED / "clothing-photos") + hm_rows(SHARED / "hm-catalog")
    out.mkdir(parents=True, exist_ok=True)
    if start_row == 0:
        (out / "rows.jsonl").write_text("".join(json.dumps(asdict(r)) + "\n" for r in rows))
    rows = rows[start_row:]
    name = f"features{size}" if start_row == 0 else f"features{size}.from{start_row}"
    model = load_pretrained()
    feats = np.zeros((len(rows), 1280), np.float16)
    start = time.time()
    for i in range(0, len(rows), batch):
        squares = np.stack([load_square(r.path, size) for r in rows[i:i + batch]])
        with torch.no_grad():
            x = normalise(squares)
            feats[i:i + len(squares)] = model.features(x).numpy()
        if i % (batch * 20) == 0:
            print(f"{i + len(squares)}/{len(rows)} {time.time() - start:.0f}s", flush=True)
            np.save(out / f"{name}.partial.npy", feats[:i + len(squares)])
    np.save(out / f"{name}.npy", feats)
    print(f"done {len(rows)} rows in {time.time() - start:.0f}s", flush=True)


def merge(out: Path, size: int, start_row: int) -> int:
    """Append a resumed run's features (complete or partial) to the first part; returns the rows covered."""
    first = np.load(out / f"features{size}.npy")[:start_row]
    later = out / f"features{size}.from{start_row}.npy"
    second = np.load(later if later.is_file() else out / f"features{size}.from{start_row}.partial.npy")
    np.save(out / f"features{size}.npy", np.concatenate([first, second]))
    return len(first) + len(second)


if __name__ == "__main__":
    extract(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 192,
            int(sys.argv[3]) if len(sys.argv) > 3 else 0)
