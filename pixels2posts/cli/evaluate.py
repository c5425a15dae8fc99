"""`pixels2posts eval captions`: caption-quality evaluation (coverage, hashtag coverage, unsupported claims, and
how often the LLM or the deterministic fallback published)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from shared.settings import REPO_ROOT, get_settings

DEFAULT_CATALOG = REPO_ROOT.parent / "shared" / "data" / "hm-catalog"


@click.group()
def evaluate() -> None:
    """Evaluate the stages."""


@evaluate.command("captions")
@click.option("--catalog", type=click.Path(exists=True, file_okay=False, path_type=Path), default=DEFAULT_CATALOG,
              show_default=True, help="H&M catalogue folder (articles.csv).")
@click.option("-n", "--count", type=click.IntRange(1, 10_000), default=100, show_default=True,
              help="Test-split products to caption.")
@click.option("--samples/--no-samples", default=True,
              help="Also caption bus.jpg and zidane.jpg through the vision stage, when it is installed.")
@click.option("--photos", is_flag=True,
              help="Evidence from the products' photos through the vision stage (end to end), not their labels.")
@click.option("--local-llm", is_flag=True, help="Start the embedded LLM for the evaluation.")
@click.option("--show", type=click.IntRange(0, 1000), default=3, help="Print this many example captions.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def captions(catalog: Path, count: int, samples: bool, photos: bool, local_llm: bool, show: int,
             as_json: bool) -> None:
    """Caption H&M test products (from catalogue labels, or --photos end to end) and the sample photos."""
    from pixels2posts.cli.caption import llm_settings, vision_packs
    from shared.errors import NotAvailableYetError
    from workers.language.evaluation import Summary, hm_packs, hm_photos
    from workers.language.evaluation import evaluate as run
    from workers.language.pipeline import CaptionWriter

    settings = get_settings()
    if photos:
        articles = hm_photos(catalog, count)
        packs = list(zip((a for a, _ in articles), vision_packs(tuple(p for _, p in articles), settings),
                         strict=True))
        notes = [f"{len(packs)} H&M test-split products, evidence from their photos through the vision stage"]
    else:
        packs = hm_packs(catalog / "articles.csv", count)
        notes = [f"{len(packs)} H&M test-split products, evidence from catalogue labels (language-only)"]
    if samples:
        try:
            from shared.samples import sample_images

            images = tuple(sample_images())
            packs += list(zip((p.name for p in images), vision_packs(images, settings), strict=True))
            notes.append(f"{len(images)} sample photos through the vision stage")
        except (NotAvailableYetError, FileNotFoundError) as exc:
            notes.append(f"sample photos skipped: {exc}")
    with llm_settings(settings, local_llm) as current:
        writer = CaptionWriter(current)
        summary: Summary = run(writer, packs, lambda index, item: click.echo(
            f"[{index}/{len(packs)}] {item.item}: {'fallback' if item.fallback else 'llm'} "
            f"coverage {item.attribute_coverage:.2f} {item.seconds:.1f}s", err=True))
    table = {**summary.table(), **{f"stats_{k}": v for k, v in writer.stats.as_dict().items()}}
    if as_json:
        click.echo(json.dumps({"notes": notes, "summary": table,
                               "examples": [vars(i) for i in summary.items[:show]]}, indent=2))
        return
    for note in notes:
        click.echo(f"# {note}")
    width = max(len(key) for key in table)
    for key, value in table.items():
        click.echo(f"{key:<{width}}  {value}")
    for item in summary.items[:show]:
        click.echo(f"- {item.item}: {item.caption}  (coverage {item.attribute_coverage:.2f}, "
                   f"{'fallback' if item.fallback else 'llm'})")
