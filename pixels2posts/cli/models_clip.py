"""`pixels2posts models train-clip | export-clip | eval-attributes` (training code is imported lazily)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from shared.settings import get_settings

# the H&M catalogue lives outside the repository (the team's ../shared/data/hm-catalog): no default
CATALOG_HELP = "H&M catalogue folder (articles.csv + images/), e.g. ../shared/data/hm-catalog."
# the trainer declares the defaults (training.clip.train.train, declared once); an option left out keeps its default
TRAINERS = "Default: the trainer's (training/clip/train.py)."


@click.command("train-clip")
@click.option("--catalog", type=click.Path(exists=True, path_type=Path), required=True, help=CATALOG_HELP)
@click.option("--run-dir", type=click.Path(path_type=Path), default=Path("training/runs/clip/run"),
              show_default=True, help="Relative to the current folder.")
@click.option("--epochs", type=int, default=None, help=TRAINERS)
@click.option("--batch-size", type=int, default=None, help=TRAINERS)
@click.option("--threads", type=int, default=None, help=f"Torch threads. {TRAINERS}")
@click.option("--lr", type=float, default=None, help=TRAINERS)
@click.option("--aux-weight", type=float, default=None,
              help=f"Weight of the gender/fabric heads' cross-entropy (0: plain CLIP loss). {TRAINERS}")
@click.option("--init", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Continue from this checkpoint (a new schedule).")
def train_clip(catalog: Path, run_dir: Path, epochs: int | None, batch_size: int | None, threads: int | None,
               lr: float | None, aux_weight: float | None, init: Path | None) -> None:
    """Train our small open_clip model (LCNet image tower, frozen MiniLM text tower) on the H&M catalogue."""
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from training.clip.config import IMAGE_SIZE
    from training.clip.data import prepare
    from training.clip.train import train

    cache = run_dir.parent / f"cache{IMAGE_SIZE}"
    if not (cache / "images.npy").is_file():
        click.echo(f"preparing {cache}: {prepare(catalog, cache, IMAGE_SIZE)}")
    given: dict[str, Any] = {"epochs": epochs, "batch_size": batch_size, "threads": threads, "lr": lr,
                             "aux_weight": aux_weight}
    options = {name: value for name, value in given.items() if value is not None}
    click.echo(json.dumps(train(cache, run_dir, init=init, **options)))


@click.command("export-clip")
@click.option("--model", "model_name", default="p2p-lcnet-minilm", show_default=True,
              help="open_clip model name (e.g. ViT-B-32), or our p2p-lcnet-minilm.")
@click.option("--checkpoint", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="open_clip checkpoint (.pt/.bin/.safetensors); without it, random init (tests only).")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=Path("models/clip"),
              show_default=True, help="Relative to the current folder.")
@click.option("--no-text", is_flag=True, help="Export the image tower only.")
def export_clip(model_name: str, checkpoint: Path | None, out_dir: Path, no_text: bool) -> None:
    """Export an open_clip model to image.onnx / text.onnx (dynamic batch) and check ONNX-vs-torch parity."""
    from training.clip.export import export_clip as export

    report = export(model_name, checkpoint, out_dir, text=not no_text)
    click.echo(json.dumps(report, indent=1))
    worst = min(v["min_cosine"] for k, v in report.items() if k in ("image", "text"))
    if worst < 0.999:
        raise click.ClickException(f"ONNX output differs from torch (lowest cosine {worst:.5f})")


@click.command("eval-attributes")
@click.option("--catalog", type=click.Path(exists=True, path_type=Path), required=True, help=CATALOG_HELP)
@click.option("--index-dir", type=click.Path(path_type=Path), default=None,
              help="An index of TRAIN-split products (default: the bundled demo index).")
@click.option("--limit", type=int, default=None, help="Evaluate on at most this many test products.")
@click.option("--colour-limit", type=int, default=800, show_default=True)
@click.option("--json", "json_out", type=click.Path(path_type=Path), default=None, help="Also write the report.")
def eval_attributes(catalog: Path, index_dir: Path | None, limit: int | None, colour_limit: int,
                    json_out: Path | None) -> None:
    """Gender/fabric retrieval votes and colour naming on held-out H&M products."""
    from training.clip.evaluate import evaluate_colours, evaluate_retrieval, test_items
    from workers.vision.embedder import ClipEmbedder
    from workers.vision.index import ProductIndex

    settings = get_settings()
    index = ProductIndex(index_dir or settings.index_dir or settings.models_dir / "index")
    if "test" in index.manifest.get("source", "") or "split=all" in index.manifest.get("source", ""):
        click.echo("warning: this index may hold test products; numbers would be optimistic", err=True)
    items = test_items(catalog, limit)
    report = {"retrieval": evaluate_retrieval(items, ClipEmbedder(settings), index, settings.top_k,
                                              settings.attribute_thresholds),
              "colour": evaluate_colours(items[:colour_limit])}
    click.echo(f"{'attribute':<10} {'n':>5} {'acc':>6} {'macroF1':>8} {'majority':>9} {'cov@thr':>8} {'acc@thr':>8}")
    for name in ("gender", "fabric"):
        r = report["retrieval"][name]
        click.echo(f"{name:<10} {r['n']:>5} {r['accuracy']:>6.3f} {r['macro_f1']:>8.3f} "
                   f"{r['majority_baseline']:>9.3f} {r['coverage_at_threshold']:>8.3f} "
                   f"{r['accuracy_at_threshold']:>8.3f}")
    c = report["colour"]
    click.echo(f"{'colour':<10} {c['n']:>5} {c['accuracy']:>6.3f}   confusions: {c['top_confusions'][:4]}")
    if json_out:
        json_out.write_text(json.dumps(report, indent=1))
