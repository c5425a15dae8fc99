"""Fine-tune the COCO-initialised YOLOv8n on the colorful-fashion train split (offline-safe, GPU or CPU).

Used both by `pixels2posts models train-detector` and, standalone, on the remote GPU machine (which has torch but
not this project's venv: only Ultralytics carried as a wheel). The shipped model came from (see MODEL_CARD.md):

    python -m training.detector.train --data .devdata/cf --weights .devdata/yolov8n-coco-10cls.pt \
        --imgsz 640 --batch 64 --workers 12 --time 0.115 --epochs 150 --cache ram --device 0 --out $OUT

`--data` is a folder with train/{images,labels} and val/{images,labels} (training.detector.prepare_data makes it
from the train split; val is a holdout of train, never the test split). `--resume` continues an interrupted run
from its last.pt.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
from pathlib import Path
from typing import Any

from shared.vocab import GARMENT_LABELS

os.environ.setdefault("YOLO_OFFLINE", "1")


def write_data_yaml(data_dir: Path) -> Path:
    """A data.yaml with this machine's absolute path (the copy may have moved)."""
    names = "\n".join(f"  {i}: {name}" for i, name in enumerate(GARMENT_LABELS))
    path = data_dir / "data.yaml"
    path.write_text(f"path: {data_dir.resolve()}\ntrain: train/images\nval: val/images\nnames:\n{names}\n")
    return path


def _read_results_csv(trainer: Any) -> dict[str, list[Any]]:
    """Ultralytics reads results.csv with polars; plain csv avoids carrying that 40 MB wheel."""
    try:
        with open(trainer.csv, newline="") as handle:
            rows = list(csv.DictReader(handle))
    except OSError:
        return {}
    columns: dict[str, list[Any]] = {key.strip(): [] for key in (rows[0] if rows else {})}
    for row in rows:
        for key, value in row.items():
            columns[key.strip()].append(float(value))
    return columns


def patch_ultralytics_offline() -> None:
    """No downloads: the AMP self-check fetches a model, and results.csv is parsed with polars."""
    import ultralytics.engine.trainer as trainer_module

    trainer_module.check_amp = lambda model: True
    trainer_module.BaseTrainer.read_results_csv = _read_results_csv  # type: ignore[method-assign]


def train(args: argparse.Namespace) -> Path:
    patch_ultralytics_offline()
    from ultralytics import YOLO

    run_dir = args.project / args.name
    if args.resume:
        model = YOLO(str(run_dir / "weights" / "last.pt"))
        model.train(resume=True)
        return run_dir
    data_yaml = write_data_yaml(args.data)
    model = YOLO(str(args.weights))
    model.train(
        data=str(data_yaml),
        epochs=args.epochs,
        time=args.time,
        imgsz=args.imgsz,
        batch=args.batch,
        workers=args.workers,
        cache=args.cache,
        device=args.device,
        fraction=args.fraction,
        project=str(args.project.resolve()),
        name=args.name,
        exist_ok=True,
        plots=False,
        seed=0,
        deterministic=False,
        patience=args.patience,
        close_mosaic=args.close_mosaic,
        amp=args.amp,
        lr0=args.lr0,
        optimizer=args.optimizer,
        cos_lr=args.cos_lr,
        save_period=args.save_period,
        warmup_epochs=args.warmup_epochs,
    )
    return run_dir


def collect(run_dir: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for source in (
        run_dir / "weights" / "best.pt",
        run_dir / "weights" / "last.pt",
        run_dir / "results.csv",
        run_dir / "args.yaml",
    ):
        if source.is_file():
            shutil.copyfile(source, out / source.name)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=Path(".devdata/cf"))
    p.add_argument("--weights", type=Path, default=Path(".devdata/yolov8n-coco-10cls.pt"))
    p.add_argument("--imgsz", type=int, default=640)
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--time", type=float, default=None, help="hours; overrides epochs, keeps a full LR schedule")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--cache", default="ram", help="ram, disk or false")
    p.add_argument("--device", default="cpu")
    p.add_argument("--fraction", type=float, default=1.0)
    p.add_argument("--patience", type=int, default=100)
    p.add_argument("--close-mosaic", type=int, default=10)
    p.add_argument("--amp", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--lr0", type=float, default=0.01)
    p.add_argument("--optimizer", default="auto")
    p.add_argument("--cos-lr", action="store_true")
    p.add_argument("--warmup-epochs", type=float, default=3.0)
    p.add_argument("--save-period", type=int, default=-1)
    p.add_argument("--project", type=Path, default=Path("training/runs"))
    p.add_argument("--name", default="detector")
    p.add_argument("--resume", action="store_true")
    p.add_argument("--out", type=Path, default=None, help="copy best.pt/last.pt/results.csv here")
    return p


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    if args.cache == "false":
        args.cache = False
    run_dir = train(args)
    if args.out is not None:
        collect(run_dir, args.out)
    print(f"run folder: {run_dir}")


if __name__ == "__main__":
    main()
