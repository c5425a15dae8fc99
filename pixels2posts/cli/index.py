"""`pixels2posts index`: build a product index from a catalogue, add products to it, show what it holds."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from shared.settings import get_settings

if TYPE_CHECKING:
    from workers.vision.index import ProductIndex


def _default_dir() -> Path:
    settings = get_settings()
    return settings.index_dir or settings.models_dir / "index"


def _calibrator(k: int) -> Callable[[ProductIndex], dict[str, Any]]:
    from workers.vision.retrieval import fit_calibration

    def calibrate(index: ProductIndex) -> dict[str, Any]:
        labels = [index.item(row) for row in range(index.count)]
        return fit_calibration(labels, index.vectors(), index.search, k)

    return calibrate


@click.group()
def index() -> None:
    """Product index: build, add, info."""


@index.command()
@click.argument("catalog", type=click.Path(exists=True, path_type=Path))
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=None,
              help="Index folder (default: P2P_INDEX_DIR or the bundled models/index).")
@click.option("--split", type=click.Choice(["all", "train", "test"]), default="all",
              help="Keep only products of this split (stable hash of the product group; see catalog.split_of).")
@click.option("--limit", type=int, default=None, help="Index at most this many products (smoke tests).")
@click.option("--batch-size", type=int, default=64, show_default=True)
def build(catalog: Path, out_dir: Path | None, split: str, limit: int | None, batch_size: int) -> None:
    """Build an index from CATALOG: an H&M folder (articles.csv + images/) or a generic .csv/.jsonl file."""
    from pixels2posts.catalog.build import create_index, embed_items
    from pixels2posts.catalog.reader import read_catalog, split_of
    from workers.vision.embedder import ClipEmbedder

    settings = get_settings()
    items = read_catalog(catalog)
    if split != "all":
        items = [item for item in items if split_of(item.group) == split]
    items = items[:limit] if limit else items
    embedder = ClipEmbedder(settings)
    vectors, kept, skipped = embed_items(items, embedder, batch_size, settings.fetch_timeout_s)
    if not kept:
        raise click.ClickException(f"no product image could be read from {catalog}")
    folder = out_dir or _default_dir()
    built = create_index(folder, vectors, kept, embedder.version, source=f"{catalog.name} split={split}",
                         calibrate=_calibrator(settings.top_k))
    for line in skipped[:20]:
        click.echo(f"skipped {line}", err=True)
    for warning in one_valued_labels(kept):
        click.echo(f"warning: {warning}", err=True)
    click.echo(f"built {folder}: {built.count} products ({len(skipped)} skipped), version {built.version}")


def one_valued_labels(items: list[Any]) -> list[str]:
    """Voted attributes that only some products carry, all with one value (a catalogue that marks kids and leaves
    adults blank): a product without the label is not read as another value, so the vote can only say that one."""
    from workers.vision.retrieval import VOTED_ATTRIBUTES

    warnings = []
    for name in VOTED_ATTRIBUTES:
        values = Counter(value for item in items if (value := getattr(item, name)))
        labelled = sum(values.values())
        if len(values) == 1 and labelled < len(items):
            (value,) = values
            warnings.append(f"{name}: {labelled} of {len(items)} products have one and all say {value!r}; the "
                            f"neighbour vote can only ever say {value!r} (label the others, or leave {name} out)")
    return warnings


@index.command()
@click.argument("catalog", type=click.Path(exists=True, path_type=Path))
@click.option("--index-dir", type=click.Path(path_type=Path), default=None)
@click.option("--batch-size", type=int, default=64, show_default=True)
def add(catalog: Path, index_dir: Path | None, batch_size: int) -> None:
    """Add the products of CATALOG to an existing index, without a rebuild."""
    from pixels2posts.catalog.build import add_to_index, embed_items
    from pixels2posts.catalog.reader import read_catalog
    from workers.vision.embedder import ClipEmbedder
    from workers.vision.index import ProductIndex

    settings = get_settings()
    target = ProductIndex(index_dir or _default_dir())
    embedder = ClipEmbedder(settings)
    vectors, kept, skipped = embed_items(read_catalog(catalog), embedder, batch_size, settings.fetch_timeout_s)
    added = add_to_index(target, vectors, kept, embedder.version) if kept else 0
    for line in skipped[:20]:
        click.echo(f"skipped {line}", err=True)
    click.echo(f"added {added} products ({len(skipped)} skipped): {target.count} in all, version {target.version}")


@index.command()
@click.option("--index-dir", type=click.Path(path_type=Path), default=None)
@click.option("--json", "as_json", is_flag=True, help="Print the manifest and label counts as JSON.")
def info(index_dir: Path | None, as_json: bool) -> None:
    """What an index holds: manifest and label counts."""
    from workers.vision.index import LABEL_KEYS, ProductIndex

    target = ProductIndex(index_dir or _default_dir())
    manifest = dict(target.manifest)
    counts = {key: Counter(str(target.item(r).get(key)) for r in range(target.count)).most_common(8)
              for key in LABEL_KEYS}
    if as_json:
        click.echo(json.dumps({"manifest": manifest, "labels": counts}, indent=1))
        return
    calibration = manifest.pop("calibration", {})
    for key, value in sorted(manifest.items()):
        click.echo(f"{key:>12}: {value}")
    click.echo(f"{'calibrated':>12}: {', '.join(sorted(calibration)) or 'no'}")
    for key, pairs in counts.items():
        click.echo(f"{key:>12}: " + ", ".join(f"{v} {n}" for v, n in pairs))
