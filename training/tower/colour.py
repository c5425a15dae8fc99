"""Train the colour namer (workers/vision/colour_model.py) on H&M product shots; pick its answer threshold.

    python -m training.tower.colour RUN_DIR [--catalog ../shared/data/hm-catalog] [--out models/clip/colour.npz]

Data: every H&M article with a perceived master colour, through the runtime's own clustering (`cluster_batch` on
the decoded image, as the pipeline does for a product photo). Splits are the tower's (training/tower/data.py: the
runtime's product-level test split; a calibration fold carved out of train by product): the MLP is fitted on train,
the threshold is picked on calib (the lowest confidence at which the answered colours are still right >= TARGET of
the time at the truth metric's family level: `pixels2posts.evaluation.truth.colour_families` of the stated name vs
of H&M's `colour_group_name`; answered = confident and agreeing with the plain k-means name, as at runtime), and
test is only measured. Writes the weights and RUN_DIR/colour_report.json.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path
from typing import Any

import numpy as np

from pixels2posts.evaluation.truth import colour_families
from shared.images import load_image
from shared.palette import FAMILY_OF
from shared.settings import REPO_ROOT
from training.tower.data import hm_rows
from workers.vision.colour_model import ColourModel, agree, colour_features
from workers.vision.colours import cluster_batch, name_clusters

CATALOG = REPO_ROOT.parent / "shared" / "data" / "hm-catalog"
TARGET = 0.95
MIN_ANSWERED = 50
BATCH = 64
VERSION = "p2p-colour-mlp-1"


def extract(catalog: Path, cache: Path) -> dict[str, np.ndarray]:
    """Features, the previous method's top colour name, and the truths of every H&M article with a master colour."""
    if cache.is_file():
        with np.load(cache, allow_pickle=False) as data:
            return dict(data)
    groups = {r["article_id"].zfill(10): r["colour_group_name"]
              for r in csv.DictReader((catalog / "articles.csv").open(newline="", encoding="utf-8"))}
    rows = [r for r in hm_rows(catalog) if r.colour]
    features, previous, centres, shares = [], [], [], []
    for start in range(0, len(rows), BATCH):
        crops = [load_image(r.path).rgb for r in rows[start:start + BATCH]]
        stats = cluster_batch(crops)
        features.append(colour_features(stats))
        previous += [found[0].name if found else "" for found in name_clusters(stats, len(crops))]
        centres.append(stats.centres)
        shares.append(stats.shares)
    data = {"features": np.concatenate(features), "previous": np.array(previous),
            "centres": np.concatenate(centres), "shares": np.concatenate(shares),
            "split": np.array([r.split for r in rows]), "master": np.array([r.colour or "" for r in rows]),
            "group": np.array([groups[r.key] for r in rows]), "key": np.array([r.key for r in rows])}
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(cache, **data)
    return data


def fit(features: np.ndarray, labels: np.ndarray, seed: int = 0) -> dict[str, np.ndarray]:
    """A (F -> 64 -> families) MLP, scikit-learn in training only; returns the arrays the runtime loads."""
    from sklearn.neural_network import MLPClassifier

    mean = features.mean(0)
    scale = features.std(0) + 1e-6
    model = MLPClassifier((64,), alpha=1e-3, max_iter=500, early_stopping=True, n_iter_no_change=20,
                          random_state=seed).fit((features - mean) / scale, labels)
    return {"mean": mean.astype(np.float32), "scale": scale.astype(np.float32),
            "w1": model.coefs_[0].astype(np.float32), "b1": model.intercepts_[0].astype(np.float32),
            "w2": model.coefs_[1].astype(np.float32), "b2": model.intercepts_[1].astype(np.float32),
            "families": np.array([str(c) for c in model.classes_])}


def stated_right(name: str, group: str) -> bool | None:
    """The truth metric's colour test: does the stated name share a family with the catalogue colour (None: the
    catalogue colour has no family the lexicon knows)."""
    truth = colour_families(group)
    return bool(colour_families(name) & truth) if truth else None


def pick_threshold(confidence: np.ndarray, right: np.ndarray, target: float = TARGET) -> float:
    """The lowest confidence whose answered set (confidence >= it) is right >= target, with >= MIN_ANSWERED answers."""
    order = np.argsort(-confidence, kind="stable")
    precision = np.cumsum(right[order]) / np.arange(1, len(order) + 1)
    ok = np.nonzero((precision >= target) & (np.arange(1, len(order) + 1) >= MIN_ANSWERED))[0]
    return float(confidence[order][ok.max()]) if len(ok) else 1.0


def readings(model: ColourModel, data: dict[str, np.ndarray],
             rows: np.ndarray) -> tuple[list[str], list[str], np.ndarray, np.ndarray]:
    """Per row: the MLP's family and name, its confidence, and whether the name agrees with the plain k-means name."""
    probs = model.probabilities(data["features"][rows])
    families = [model.families[int(i)] for i in probs.argmax(1)]
    names = [model.name(int(f), data["centres"][r], data["shares"][r])[0] for f, r in zip(probs.argmax(1), rows,
                                                                                             strict=True)]
    agreeing = np.array([agree(n, str(p) or None) for n, p in zip(names, data["previous"][rows], strict=True)])
    return families, names, probs.max(1), agreeing


def measure(model: ColourModel, data: dict[str, np.ndarray], split: str) -> dict[str, Any]:
    rows = np.nonzero(data["split"] == split)[0]
    families, names, confidence, agreeing = readings(model, data, rows)
    master, group, previous = data["master"][rows], data["group"][rows], data["previous"][rows]
    old_family = np.array([FAMILY_OF.get(str(p), "") for p in previous])
    right_old = [stated_right(str(p), str(g)) for p, g in zip(previous, group, strict=True)]
    right_new = [stated_right(n, str(g)) for n, g in zip(names, group, strict=True)]
    known = np.array([r is not None for r in right_new])
    answered = (confidence >= model.threshold) & agreeing
    new_ok = np.array([bool(r) for r in right_new])
    old_ok = np.array([bool(r) for r in right_old])
    return {
        "n": len(rows),
        "master_accuracy_previous": float((old_family == master).mean()),
        "master_accuracy_new": float((np.array(families) == master).mean()),
        "family_level_n": int(known.sum()),
        "family_level_precision_previous_always": float(old_ok[known].mean()),
        "family_level_precision_new_always": float(new_ok[known].mean()),
        "answer_rate": float(answered[known].mean()),
        "answered_precision": float(new_ok[known & answered].mean()) if (known & answered).any() else None,
        "master_accuracy_answered": float((np.array(families) == master)[answered].mean()) if answered.any() else None,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path)
    parser.add_argument("--catalog", type=Path, default=CATALOG)
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "models" / "clip" / "colour.npz")
    parser.add_argument("--target", type=float, default=TARGET)
    args = parser.parse_args(argv)
    data = extract(args.catalog, args.run / "colour_features.npz")
    train = data["split"] == "train"
    weights = fit(data["features"][train], data["master"][train])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(args.out, **weights, threshold=np.float32(1.0), version=np.array(VERSION))
    model = ColourModel(args.out)
    calib = np.nonzero(data["split"] == "calib")[0]
    _, names, confidence, agreeing = readings(model, data, calib)
    right = [stated_right(n, str(g)) for n, g in zip(names, data["group"][calib], strict=True)]
    known = np.array([r is not None for r in right])
    # a disagreeing reading is never answered: it ranks below every agreeing one
    ranked = np.where(agreeing, confidence, -1.0)
    threshold = pick_threshold(ranked[known], np.array([bool(r) for r in right])[known], args.target)
    np.savez(args.out, **weights, threshold=np.float32(threshold), version=np.array(VERSION))
    model = ColourModel(args.out)
    report = {"threshold": threshold, "target": args.target, "version": VERSION,
              **{split: measure(model, data, split) for split in ("train", "calib", "test")}}
    (args.run / "colour_report.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
