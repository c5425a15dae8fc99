"""`pixels2posts models train-detector | export-detector | eval-detector`.

Training and export import torch/Ultralytics lazily (the `train` extra); evaluation runs our runtime path only
(ONNX Runtime + numpy), never Ultralytics' validator.
"""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command(
    "train-detector", context_settings={"ignore_unknown_options": True, "allow_extra_args": True}
)
@click.option(
    "--prepare",
    "source",
    type=click.Path(exists=True, path_type=Path),
    default=None,
    help="Dataset root (YOLO format) to prepare the trainer's --data from first, e.g. ../shared/data/colorful-fashion.",
)
@click.option(
    "--coco-onnx",
    type=click.Path(exists=True, path_type=Path),
    default=None,
    help="COCO int8 YOLOv8n to make the trainer's --weights from when they do not exist, e.g. "
    "../shared/weights/yolov8n-coco-int8.onnx.",
)
@click.pass_context
def train_detector(ctx: click.Context, source: Path | None, coco_onnx: Path | None) -> None:
    """Fine-tune the COCO-initialised YOLOv8n on the garment train split (checkpoints resume-able).

    Every other option goes to the trainer, which declares them and their defaults (`python -m
    training.detector.train --help`): --data, --weights, --epochs, --time, --imgsz, --batch, --device, --resume,
    --out, ..."""
    from training.detector import coco_transfer, prepare_data, train

    args = train.parser().parse_args(ctx.args)
    if source is not None:
        prepare_data.main(["--src", str(source), "--out", str(args.data)])
    if not args.resume and not args.weights.is_file():
        if coco_onnx is None:
            raise click.UsageError(f"--weights {args.weights} does not exist: give --coco-onnx to make it")
        coco_transfer.main(
            ["--onnx", str(coco_onnx), "--out", str(args.weights), "--calibrate", str(args.data / "train" / "images")]
        )
    train.main(ctx.args)


@click.command("export-detector")
@click.option("--weights", type=click.Path(exists=True, path_type=Path), required=True, help="Trained best.pt.")
@click.option(
    "--out", type=click.Path(path_type=Path), default=Path("models/detector/garments-yolov8n.onnx"), show_default=True
)
@click.option("--precision", type=click.Choice(["fp32", "fp16", "int8"]), default="fp32", show_default=True)
def export_detector(weights: Path, out: Path, precision: str) -> None:
    """Export a checkpoint to ONNX (dynamic batch, opset 17) with a model_version in its metadata."""
    from training.detector import export

    version = export.export(weights, out, precision)
    click.echo(f"wrote {out} ({out.stat().st_size / 2**20:.1f} MiB), version {version}")


@click.command("eval-detector")
@click.option(
    "--data",
    type=click.Path(exists=True, path_type=Path),
    required=True,
    help="A folder with images/ + labels/, or a dataset root holding --split (e.g. ../shared/data/colorful-fashion).",
)
@click.option("--split", default="test", show_default=True)
@click.option(
    "--model",
    type=click.Path(exists=True, path_type=Path),
    default=None,
    help="Detector ONNX (default: the configured/bundled one).",
)
@click.option("--limit", type=int, default=None, help="Only the first N images (sorted by name).")
@click.option("--batch-size", type=int, default=None, help="Images per session call (default: settings).")
@click.option("--json", "json_out", type=click.Path(path_type=Path), default=None, help="Also write metrics here.")
def eval_detector(
    data: Path, split: str, model: Path | None, limit: int | None, batch_size: int | None, json_out: Path | None
) -> None:
    """mAP@0.5, mAP@0.5:0.95, per-class AP, precision/recall of our runtime detector on a labelled folder."""
    from pixels2posts.evaluation.detector_eval import EVAL_CONF, EVAL_IOU, evaluate_folder, split_folder
    from shared.settings import get_settings
    from workers.vision.detector import GarmentDetector

    update: dict[str, object] = {"detector_conf": EVAL_CONF, "detector_iou": EVAL_IOU}
    if batch_size:
        update["detector_batch_size"] = batch_size
    detector = GarmentDetector(model, get_settings().model_copy(update=update))
    try:
        folder = split_folder(data, split)
    except FileNotFoundError as exc:
        raise click.ClickException(str(exc)) from exc
    metrics = evaluate_folder(detector, folder, limit)
    click.echo(f"model {detector.version} on {folder} ({metrics.images} images)")
    click.echo(f"{'class':<10} {'inst':>5} {'P':>6} {'R':>6} {'AP50':>6} {'AP50-95':>8}")
    for cls, count in metrics.instances.items():
        click.echo(
            f"{detector.labels[cls]:<10} {count:>5} {metrics.class_precision[cls]:>6.3f} "
            f"{metrics.class_recall[cls]:>6.3f} {metrics.ap50[cls]:>6.3f} {metrics.ap50_95[cls]:>8.3f}"
        )
    total = sum(metrics.instances.values())
    click.echo(
        f"{'all':<10} {total:>5} {metrics.precision:>6.3f} {metrics.recall:>6.3f} "
        f"{metrics.map50:>6.3f} {metrics.map50_95:>8.3f}"
    )
    click.echo(f"mAP@0.5 {metrics.map50:.4f}  mAP@0.5:0.95 {metrics.map50_95:.4f}")
    if json_out is not None:
        payload = {
            "model_version": detector.version,
            "images": metrics.images,
            "map50": metrics.map50,
            "map50_95": metrics.map50_95,
            "precision": metrics.precision,
            "recall": metrics.recall,
            "per_class": {
                detector.labels[c]: {
                    "instances": n,
                    "ap50": metrics.ap50[c],
                    "ap50_95": metrics.ap50_95[c],
                    "precision": metrics.class_precision[c],
                    "recall": metrics.class_recall[c],
                }
                for c, n in metrics.instances.items()
            },
        }
        json_out.write_text(json.dumps(payload, indent=2))
