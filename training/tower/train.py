"""Train the heads on cached features, pick abstention thresholds on calibration rows, report on held-out rows.

    python -m training.tower.train RUN_DIR [SIZE] [--shift-epochs=N] [--reuse] [--train-limit=N]
`--train-limit=N` trains and calibrates only on the first N cached rows (test rows stay all rows): e.g. the data of
the heads of commit 02bfd42 (only the first 9,024 rows had features then), measured on the same full test sets as a
fit on every row. Its heads and report go to heads-limitN.pt / report-limitN.json.
Two fits:
  product  trained on H&M train products + clothing-photos train contributors; thresholds on the calibration fold;
           reported on H&M test products and clothing-photos test contributors (never tuned on).
  shift    the same without the held-out H&M sections (HELD_OUT_SECTIONS) and without Sport; thresholds on the
           in-domain calibration fold; reported on the held-out sections, on Sport (gender from the section name)
           and on the clothing-photos kids flag: a domain the heads and their thresholds never saw.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

from shared.vocab import GENDERS
from training.tower.decide import answer, knn_vote, threshold_for
from training.tower.heads import HEADS, Heads, TrainConfig, encode, fit_temperatures, predict, train_heads
from training.tower.labels import CLOTHING_PHOTOS_ACCEPT
from workers.vision.garment_types import COARSE, GARMENT_TYPES

HELD_OUT_SECTIONS = frozenset({"Contemporary Smart", "Denim Men", "Men Suits & Tailoring", "Womens Tailoring",
                               "Ladies Denim", "Divided Projects", "Kids Boy", "Young Girl", "Kids Outerwear"})
SPORT_GENDER = {"Ladies H&M Sport": "women", "Men H&M Sport": "men", "Kids Sports": "kids"}
TARGET = {"gender": 0.97, "fabric": 0.92}
MIN_SIM_PERCENTILE = 5.0


def load_rows(run: Path) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in (run / "rows.jsonl").read_text().splitlines()]
    # clothing-photos' kids flag checks gender across domains: never a training label (caches written before this
    # rule carried it as gender "kids")
    return [dict(r, gender=None) if r["source"] == "clothing" else r for r in rows]


def load(run: Path, size: int) -> tuple[list[dict[str, Any]], np.ndarray]:
    rows = load_rows(run)
    features = np.load(run / f"features{size}.npy").astype(np.float32)
    return rows[:len(features)], features


def targets(rows: list[dict[str, Any]]) -> dict[str, np.ndarray]:
    return {name: encode([r[name] for r in rows], vocab) for name, vocab in HEADS.items()}


def _mask(rows: list[dict[str, Any]], rule: Any) -> np.ndarray:
    return np.asarray([bool(rule(r)) for r in rows])


def garment_report(rows: list[dict[str, Any]], probs: np.ndarray, train_y: np.ndarray) -> dict[str, Any]:
    predicted = [GARMENT_TYPES[i] for i in probs.argmax(1)]
    majority = GARMENT_TYPES[int(np.bincount(train_y[train_y >= 0]).argmax())]
    out: dict[str, Any] = {}
    clothing = [(r, p) for r, p in zip(rows, predicted, strict=True)
                if r["source"] == "clothing" and r["raw_label"] in CLOTHING_PHOTOS_ACCEPT]
    if clothing:
        hits = [p in CLOTHING_PHOTOS_ACCEPT[r["raw_label"]] for r, p in clothing]
        coarse = [COARSE[p] == COARSE[r["garment"]] for r, p in clothing]
        out["clothing"] = {"n": len(clothing), "type_acc": float(np.mean(hits)), "coarse_acc": float(np.mean(coarse)),
                           "majority": float(np.mean([majority in CLOTHING_PHOTOS_ACCEPT[r["raw_label"]]
                                                      for r, _ in clothing]))}
    hm = [(r, p) for r, p in zip(rows, predicted, strict=True) if r["source"] == "hm" and r["garment"]]
    if hm:
        out["hm"] = {"n": len(hm), "type_acc": float(np.mean([p == r["garment"] for r, p in hm])),
                     "coarse_acc": float(np.mean([COARSE[p] == COARSE[r["garment"]] for r, p in hm])),
                     "majority": float(np.mean([r["garment"] == majority for r, _ in hm]))}
    return out


def attribute_report(truth: np.ndarray, probs: np.ndarray, decided: np.ndarray, majority: int) -> dict[str, Any]:
    known = truth >= 0
    answered = known & (decided >= 0)
    return {"n": int(known.sum()), "acc_all": float((probs.argmax(1) == truth)[known].mean()) if known.any() else 0,
            "majority": float((truth[known] == majority).mean()) if known.any() else 0,
            "answer_rate": float(answered.sum() / max(known.sum(), 1)),
            "answered_acc": float((decided == truth)[answered].mean()) if answered.any() else None}


def fit_and_report(rows: list[dict[str, Any]], x: np.ndarray, train: np.ndarray, calib: np.ndarray,
                   tests: dict[str, np.ndarray], config: TrainConfig,
                   trained: Heads | None = None) -> tuple[Heads, dict[str, Any]]:
    """Train (unless `trained` is given), pick thresholds on `calib`, report on each test mask."""
    y = targets(rows)
    model = trained or train_heads(x[train], {k: v[train] for k, v in y.items()}, config)
    report: dict[str, Any] = {"thresholds": {}, "tests": {}}
    if trained is None:
        report["temperatures"] = fit_temperatures(model, x[calib], {k: v[calib] for k, v in y.items()})
    out = predict(model, x)
    index_rows = train & _mask(rows, lambda r: r["source"] == "hm")
    index = out["embedding"][index_rows]
    calib_hm = calib & _mask(rows, lambda r: r["source"] == "hm")
    votes, best = {}, None
    for name in ("gender", "fabric"):
        votes[name], best = knn_vote(out["embedding"], index, y[name][index_rows], len(HEADS[name]))
    assert best is not None
    min_sim = float(np.percentile(best[calib_hm], MIN_SIM_PERCENTILE))
    report["min_sim"] = min_sim
    for name in ("gender", "fabric"):
        agree = votes[name].argmax(1) == out[name].argmax(1)
        usable = calib_hm & (y[name] >= 0) & agree & (best >= min_sim)
        correct = (out[name].argmax(1) == y[name])[usable].astype(float)
        report["thresholds"][name] = threshold_for(out[name].max(1)[usable], correct, TARGET[name])
    for test_name, mask in tests.items():
        part: dict[str, Any] = {"garment": garment_report([r for r, m in zip(rows, mask, strict=True) if m],
                                                          out["garment"][mask], y["garment"][train])}
        for name in ("gender", "fabric"):
            decided = answer(out[name][mask], report["thresholds"][name], votes[name][mask], best[mask], min_sim)
            majority = int(np.bincount(y[name][train][y[name][train] >= 0]).argmax())
            part[name] = attribute_report(y[name][mask], out[name][mask], decided, majority)
            part[name]["head_only"] = attribute_report(
                y[name][mask], out[name][mask], answer(out[name][mask], report["thresholds"][name]), majority)
        report["tests"][test_name] = part
    return model, report


def kids_flag_report(rows: list[dict[str, Any]], model: Heads, x: np.ndarray, mask: np.ndarray,
                     threshold: float, index: np.ndarray, min_sim: float) -> dict[str, Any]:
    """clothing-photos: kids flag vs answered gender (kids right iff flagged; women/men right iff not flagged)."""
    out = predict(model, x[mask])
    vote, best = knn_vote(out["embedding"], index[0], index[1], len(GENDERS))
    decided = answer(out["gender"], threshold, vote, best, min_sim)
    kids = np.asarray([r["kids"] for r, m in zip(rows, mask, strict=True) if m])
    answered = decided >= 0
    right = np.where(decided == GENDERS.index("kids"), kids, ~kids)
    return {"n": int(mask.sum()), "answer_rate": float(answered.mean()),
            "answered_acc": float(right[answered].mean()) if answered.any() else None,
            "head_only_answer_rate": float((out["gender"].max(1) >= threshold).mean())}


def _saved(run: Path) -> Heads | None:
    if not (run / "heads.pt").is_file():
        return None
    model = Heads()
    model.load_state_dict(torch.load(run / "heads.pt", map_location="cpu", weights_only=True))
    return model.eval()


def limit_split(split: np.ndarray, train_limit: int) -> np.ndarray:
    """Rows from `train_limit` on neither train nor calibrate ("unused"); test rows stay test rows wherever they are,
    so a fit on fewer rows is measured on the same test sets as a fit on all of them."""
    late = np.arange(len(split)) >= train_limit
    return np.where(late & (split != "test"), "unused", split)


def main(run: Path, size: int, reuse: bool = False, shift_epochs: int = 60,
         train_limit: int | None = None) -> dict[str, Any]:
    """`reuse`: report with the saved product heads instead of training them again; `train_limit`: see the top."""
    torch.set_num_threads(1)
    rows, x = load(run, size)
    split = np.asarray([r["split"] for r in rows])
    if train_limit is not None:
        split = limit_split(split, train_limit)
    suffix = "" if train_limit is None else f"-limit{train_limit}"
    hm = _mask(rows, lambda r: r["source"] == "hm")
    config = TrainConfig()
    report: dict[str, Any] = {"size": size, "rows": len(rows)}
    product, report["product"] = fit_and_report(
        rows, x, split == "train", split == "calib",
        {"hm_test": hm & (split == "test"), "clothing_test": ~hm & (split == "test")}, config,
        _saved(run) if reuse else None)
    torch.save(product.state_dict(), run / f"heads{suffix}.pt")
    (run / f"thresholds{suffix}.json").write_text(json.dumps(report["product"]["thresholds"]))
    (run / f"report{suffix}.json").write_text(json.dumps(report, indent=1))
    config = TrainConfig(epochs=shift_epochs)
    # domain shift: held-out sections and Sport never trained on nor calibrated on
    held = _mask(rows, lambda r: r["section"] in HELD_OUT_SECTIONS)
    sport = _mask(rows, lambda r: r["section"] in SPORT_GENDER)
    shift_rows = [dict(r, gender=SPORT_GENDER.get(r["section"], r["gender"])) for r in rows]
    inside = ~held & ~sport
    shift, report["shift"] = fit_and_report(
        shift_rows, x, inside & (split == "train"), inside & (split == "calib"),
        {"held_out_sections": held, "sport": sport}, config)
    out = predict(shift, x)
    index_mask = inside & (split == "train") & hm
    report["shift"]["clothing_kids_flag"] = kids_flag_report(
        rows, shift, x, ~hm & (split == "test"), report["shift"]["thresholds"]["gender"],
        (out["embedding"][index_mask], targets(rows)["gender"][index_mask]), report["shift"]["min_sim"])
    (run / f"report{suffix}.json").write_text(json.dumps(report, indent=1))
    return report


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    epochs = next((int(a.split("=")[1]) for a in sys.argv if a.startswith("--shift-epochs=")), 60)
    limit = next((int(a.split("=")[1]) for a in sys.argv if a.startswith("--train-limit=")), None)
    print(json.dumps(main(Path(args[0]), int(args[1]) if len(args) > 1 else 192, "--reuse" in sys.argv, epochs,
                          limit), indent=1))
