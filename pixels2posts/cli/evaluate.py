"""`pixels2posts eval ...`: caption quality against catalogue truth (docs/evaluation.md).

- `eval captions --dataset FILE.csv [--system rag|baseline] [--deterministic] [--local-llm] [--limit N] [--json]
  [--style-copy CATALOG]`:
  truth recall, contradictions, evidence coverage, open claims, hashtag coverage, lexical overlap, seconds per item.
  Without `--dataset`: the older evidence-based check (coverage of our own evidence pack: circular, kept as a guard
  regression number, not a quality number).
- `eval garments --dataset FILE.csv [--limit N] [--json]`: the garment type the evidence pack states, and finds
  (stated, else withheld by the statement gates), against the catalogue's category (evaluation/garments.py).
- `eval testsets --data DIR --out DIR`: the H&M test (in domain) and clothing-photos test (out of domain) CSVs from
  the team data folder (`--data ../shared/data` in the team's layout; no default: it lives outside the repository).
- `eval table --data DIR --out DIR [--limit N]`: every system on both test sets, the markdown table and the plots.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from shared.settings import get_settings


@click.group()
def evaluate() -> None:
    """Evaluate the stages."""


def _system(name: str, deterministic: bool, local_llm: bool, settings: Any, packs: dict[Path, Any] | None,
            shop_copy: Any = None) -> Any:
    from pixels2posts.evaluation.systems import BaselineSystem, RagSystem

    if name == "baseline":
        if deterministic or local_llm:
            raise click.UsageError("--deterministic and --local-llm apply to --system rag only")
        return BaselineSystem()
    return RagSystem(settings, deterministic_only=deterministic, packs=packs, shop_copy=shop_copy)


def _shop_copy(path: Path | None, items: list[Any]) -> Any:
    """The shop's copy for the style examples, with every evaluated item's own description left out."""
    if path is None:
        return None
    from workers.language.shop_copy import ShopCopy

    return ShopCopy.load(path).without([item.id for item in items], [item.reference for item in items])


def run_dataset(dataset: Path, system_name: str, deterministic: bool, local_llm: bool, limit: int | None,
                quiet: bool = False, packs: dict[Path, Any] | None = None,
                style_copy: Path | None = None, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """One system over one catalogue-schema CSV: the JSON-ready report with every item's record.
    `overrides`: settings changed for this run (the table's ungated row)."""
    from pixels2posts.cli.caption import llm_settings
    from pixels2posts.evaluation.captions import jsonable, report, run
    from pixels2posts.evaluation.dataset import read_dataset

    items = read_dataset(dataset)[:limit] if limit else read_dataset(dataset)
    with llm_settings(get_settings().model_copy(update=overrides or {}), local_llm and not deterministic) as settings:
        system = _system(system_name, deterministic, local_llm, settings, packs, _shop_copy(style_copy, items))
        records = run(items, system, None if quiet else lambda i, r: click.echo(
            f"[{i}/{len(items)}] {r['id']}: {r['writer']} recall {r['truth_recall']} "
            f"contradiction {r['any_contradiction']} {r['seconds']:.1f}s", err=True))
    summary = report(records)
    label = "rag-deterministic" if deterministic else ("rag-local-llm" if local_llm else system.name)
    return jsonable({"system": label, "dataset": str(dataset), "limit": limit, "metrics": summary["all"],
                     "by_writer": summary["by_writer"], "items": summary["items"], "llm_share": summary["llm_share"],
                     "seconds_per_item": summary["seconds_per_item"], "meteor_variant": summary["meteor_variant"],
                     "records": records})


def _print_summary(result: dict[str, Any]) -> None:
    from pixels2posts.evaluation.table import headline

    click.echo(f"# {result['system']} on {result['dataset']} ({result['items']} items, "
               f"LLM share {result['llm_share']:.2f})")
    for name, text in headline(result["metrics"]).items():
        click.echo(f"{name:<34} {text}")
    for writer, metrics in result["by_writer"].items():
        click.echo(f"## written by {writer}")
        for name, text in headline(metrics).items():
            click.echo(f"  {name:<32} {text}")


@evaluate.command("captions")
@click.option("--dataset", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Labelled catalogue CSV (id,image,title,description,gender,fabric,colour,category).")
@click.option("--system", "system_name", type=click.Choice(["rag", "baseline"]), default="rag", show_default=True)
@click.option("--deterministic", is_flag=True, help="rag with the deterministic writer only (no LLM).")
@click.option("--limit", type=click.IntRange(1, 100_000), help="First N items of the dataset.")
@click.option("--catalog", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Without --dataset: H&M catalogue folder (articles.csv), e.g. ../shared/data/hm-catalog.")
@click.option("-n", "--count", type=click.IntRange(1, 10_000), default=100, show_default=True,
              help="Without --dataset: test-split products to caption.")
@click.option("--samples/--no-samples", default=True, help="Without --dataset: also caption the sample photos.")
@click.option("--photos", is_flag=True, help="Without --dataset: evidence from the products' photos.")
@click.option("--local-llm", is_flag=True, help="Start the embedded LLM for the evaluation.")
@click.option("--show", type=click.IntRange(0, 1000), default=3, help="Print this many example captions.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--style-copy", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="With --dataset: the shop's descriptions (JSONL id/description or catalogue CSV, e.g. H&M "
                   "articles.csv) whose nearest products' copy becomes the style examples; the dataset's own "
                   "descriptions are left out.")
def captions(dataset: Path | None, system_name: str, deterministic: bool, limit: int | None, catalog: Path | None,
             count: int, samples: bool, photos: bool, local_llm: bool, show: int, as_json: bool,
             style_copy: Path | None) -> None:
    """Caption quality against catalogue truth (--dataset), or the older evidence-based check."""
    if dataset is None:
        if system_name != "rag" or deterministic:
            raise click.UsageError("--system/--deterministic need --dataset")
        if catalog is None:
            raise click.UsageError("give --dataset FILE.csv, or --catalog with the H&M catalogue folder")
        _evidence_based(catalog, count, samples, photos, local_llm, show, as_json)
        return
    result = run_dataset(dataset, system_name, deterministic, local_llm, limit, quiet=False, style_copy=style_copy)
    if as_json:
        click.echo(json.dumps(result))
        return
    _print_summary(result)
    for record in result["records"][:show]:
        click.echo(f"- {record['id']} ({record['writer']}): {record['caption']}")


@evaluate.command("garments")
@click.option("--dataset", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True,
              help="Labelled catalogue CSV (id,image,...,category).")
@click.option("--limit", type=click.IntRange(1, 100_000), help="First N scorable items.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def garments(dataset: Path, limit: int | None, as_json: bool) -> None:
    """The garment type the evidence pack states, and finds (stated or withheld), against the catalogue."""
    from pixels2posts.evaluation.garments import READINGS, evaluate_garments
    from pixels2posts.evaluation.stats import Estimate

    result = evaluate_garments(dataset, limit)
    if as_json:
        click.echo(json.dumps(result))
        return
    majority = result["majority"]
    click.echo(f"{result['items']} items of {dataset}; majority class {majority['label']}: {majority['share']:.3f}")
    click.echo("| reading | no garment | top type right | top type wrong |\n|---|---|---|---|")
    for name in READINGS:
        cells = [Estimate(**result[key]).text(3) if key in result else "n/a"
                 for key in (f"{name}_none", f"{name}_right", f"{name}_wrong")]
        click.echo(f"| {name} | " + " | ".join(cells) + " |")


@evaluate.command("testsets")
@click.option("--data", type=click.Path(exists=True, file_okay=False, path_type=Path), required=True,
              help="The team data folder (hm-catalog, clothing-photos), e.g. ../shared/data.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("var/eval"),
              show_default=True, help="Where to write hm-test.csv and clothing-test.csv (never commit them).")
def testsets(data: Path, out: Path) -> None:
    """Write the H&M test-product CSV and the clothing-photos test-contributor CSV."""
    from pixels2posts.evaluation.dataset import write_test_sets

    for name, path in write_test_sets(data, out).items():
        rows = sum(1 for _ in path.open(encoding="utf-8")) - 1
        click.echo(f"{name}: {path} ({rows} items)")


@evaluate.command("table")
@click.option("--data", type=click.Path(exists=True, file_okay=False, path_type=Path), required=True,
              help="The team data folder (hm-catalog, clothing-photos), e.g. ../shared/data.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("var/eval"), show_default=True)
@click.option("--limit", type=click.IntRange(1, 100_000), default=60, show_default=True, help="Items per domain.")
@click.option("--rows", default="baseline,ungated,deterministic,local-llm,endpoint", show_default=True,
              help="Comma-separated rows: baseline, ungated (statement gates off), deterministic, local-llm, "
                   "endpoint (skipped unless P2P_LLM_BASE_URL answers).")
@click.option("--plots", type=click.Path(file_okay=False, path_type=Path), default=Path("docs/evaluation"),
              show_default=True, help="Where the PNG plots go.")
@click.option("--reuse", is_flag=True, help="Load OUT/<row>-<domain>.json where it exists instead of rerunning.")
def table(data: Path, out: Path, limit: int, rows: str, plots: Path, reuse: bool) -> None:
    """Every system on both test sets; writes OUT/<row>-<domain>.json, prints the markdown table, draws plots."""
    from pixels2posts.evaluation.dataset import write_test_sets
    from pixels2posts.evaluation.table import ROWS, UNGATED_ROWS, endpoint_answers, markdown, plot_all
    from shared.settings import UNGATED

    sets = write_test_sets(data, out)
    wanted = [r.strip() for r in rows.split(",") if r.strip()]
    unknown = set(wanted) - set(ROWS)
    if unknown:
        raise click.UsageError(f"unknown rows {sorted(unknown)}; choose from {', '.join(ROWS)}")
    results = {}
    packs: dict[Path, Any] = {}  # evidence packs shared by the rag rows (vision seconds still charged)
    ungated_packs: dict[Path, Any] = {}
    for row in wanted:
        if row == "endpoint" and not endpoint_answers(get_settings()):
            click.echo("endpoint: P2P_LLM_BASE_URL does not answer; row skipped", err=True)
            continue
        system, deterministic, local_llm = ROWS[row]
        for domain, path in sets.items():
            saved = out / f"{row}-{domain}.json"
            if reuse and saved.is_file():
                results[(row, domain)] = json.loads(saved.read_text())
                continue
            ungated = row in UNGATED_ROWS
            result = run_dataset(path, system, deterministic, local_llm, limit, quiet=True,
                                 packs=ungated_packs if ungated else packs, overrides=UNGATED if ungated else None)
            (out / f"{row}-{domain}.json").write_text(json.dumps(result))
            results[(row, domain)] = result
            click.echo(f"{row} on {domain}: {result['items']} items, "
                       f"{result['seconds_per_item']['value']:.2f} s/item", err=True)
    click.echo(markdown(results))
    for path in plot_all(results, plots):
        click.echo(f"plot: {path}", err=True)


def _evidence_based(catalog: Path, count: int, samples: bool, photos: bool, local_llm: bool, show: int,
                    as_json: bool) -> None:
    """Coverage of our own evidence pack (circular: the fallback states the evidence by construction)."""
    from pixels2posts.cli.caption import llm_settings, vision_packs
    from pixels2posts.evaluation.language_only import Summary, hm_packs, hm_photos
    from pixels2posts.evaluation.language_only import evaluate as run
    from shared.errors import ModelNotAvailableError
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
    notes.append("evidence-based (circular): coverage of our own evidence, not truth; see --dataset")
    if samples:
        try:
            from shared.samples import sample_images

            images = tuple(sample_images())
            packs += list(zip((p.name for p in images), vision_packs(images, settings), strict=True))
            notes.append(f"{len(images)} sample photos through the vision stage")
        except (ModelNotAvailableError, FileNotFoundError) as exc:
            notes.append(f"sample photos skipped: {exc}")
    with llm_settings(settings, local_llm) as current:
        writer = CaptionWriter(current)
        summary: Summary = run(writer, packs, lambda index, item: click.echo(
            f"[{index}/{len(packs)}] {item.item}: {'fallback' if item.fallback else 'llm'} "
            f"coverage {item.attribute_coverage:.2f} {item.seconds:.1f}s", err=True))
    summary_table = {**summary.table(), **{f"stats_{k}": v for k, v in writer.stats.as_dict().items()}}
    if as_json:
        click.echo(json.dumps({"notes": notes, "summary": summary_table,
                               "examples": [vars(i) for i in summary.items[:show]]}, indent=2))
        return
    for note in notes:
        click.echo(f"# {note}")
    width = max(len(key) for key in summary_table)
    for key, value in summary_table.items():
        click.echo(f"{key:<{width}}  {value}")
    for item in summary.items[:show]:
        click.echo(f"- {item.item}: {item.caption}  (coverage {item.attribute_coverage:.2f}, "
                   f"{'fallback' if item.fallback else 'llm'})")
