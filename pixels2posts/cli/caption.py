"""`pixels2posts caption IMAGE... [--json]`: the whole pipeline in-process, photo -> evidence -> caption.

`--evidence PACK.json` captions an evidence pack instead of a photo (no vision stage needed); `--local-llm` starts
the embedded LLM for the duration of the command (otherwise P2P_LLM_BASE_URL is used, with the deterministic
writer as fallback when it cannot be reached).
"""

from __future__ import annotations

import contextlib
import importlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from shared.errors import InvalidImageError, NotAvailableYetError
from shared.schemas import CaptionResult, EvidencePack, ShopMetadata
from shared.settings import Settings, get_settings

VISION_MODULE = "workers.vision.pipeline"


def vision_packs(images: tuple[Path, ...], settings: Settings) -> list[EvidencePack]:
    try:
        module = importlib.import_module(VISION_MODULE)
    except ModuleNotFoundError as exc:
        if exc.name != VISION_MODULE:
            raise
        raise NotAvailableYetError(
            "the vision stage (workers.vision.pipeline) is not in this build yet: caption an evidence pack with "
            "`pixels2posts caption --evidence PACK.json`"
        ) from exc
    from shared.images import load_image

    decoded = [load_image(path) for path in images]
    packs: list[EvidencePack] = module.VisionPipeline(settings).evidence_batch(decoded)
    return packs


def evidence_packs(files: tuple[Path, ...]) -> list[EvidencePack]:
    packs = []
    for path in files:
        try:
            packs.append(EvidencePack.model_validate_json(path.read_text()))
        except ValueError as exc:
            raise InvalidImageError(f"{path} is not an evidence pack: {exc}", code="invalid_evidence") from exc
    return packs


@contextlib.contextmanager
def llm_settings(settings: Settings, local_llm: bool) -> Iterator[Settings]:
    if not local_llm:
        yield settings
        return
    from workers.language.local_llm import running_local_llm

    with running_local_llm(settings) as local:
        yield local


def _print_text(source: str, result: CaptionResult) -> None:
    grounding = result.grounding
    click.echo(f"{source}\n  {result.caption}\n  {' '.join(result.hashtags)}")
    click.echo(f"  coverage {grounding.attribute_coverage:.2f}, hashtag coverage {grounding.hashtag_coverage:.2f}, "
               f"unsupported {len(grounding.unsupported)}, by {result.provenance.llm} "
               f"(attempts {result.provenance.attempts})")


@click.command()
@click.argument("images", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--evidence", "evidence_files", multiple=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Caption this evidence pack JSON.")
@click.option("--sku", help="Shop SKU.")
@click.option("--title", help="Shop product title (data, never instructions).")
@click.option("--brand", help="Shop brand.")
@click.option("--tone", help="Shop tone of voice.")
@click.option("--max-hashtags", type=click.IntRange(1, 30), help="Most hashtags (default: P2P_HASHTAGS_MAX).")
@click.option("--ban", "banned_words", multiple=True, help="A word never to publish (repeatable).")
@click.option("--local-llm", is_flag=True, help="Start the embedded LLM for this command.")
@click.option("--json", "as_json", is_flag=True, help="Print CaptionResult JSON (one object, or a list).")
@click.option("--system", type=click.Choice(["rag", "baseline"]), default="rag", show_default=True,
              help="baseline: the end-to-end image-to-text captioner (models/baseline), for comparison only.")
def caption(images: tuple[Path, ...], evidence_files: tuple[Path, ...], sku: str | None, title: str | None,
            brand: str | None, tone: str | None, max_hashtags: int | None, banned_words: tuple[str, ...],
            local_llm: bool, as_json: bool, system: str) -> None:
    """Write a grounded caption and hashtags for each photo (or evidence pack)."""
    if not images and not evidence_files:
        raise click.UsageError("give at least one IMAGE or --evidence PACK.json")
    if system == "baseline":
        from pixels2posts.evaluation.baseline import echo_captions

        echo_captions(images, as_json)
        return
    from workers.language.pipeline import CaptionWriter

    settings = get_settings()
    meta = ShopMetadata(sku=sku, title=title, brand=brand, tone=tone, max_hashtags=max_hashtags,
                        banned_words=list(banned_words))
    sources = [str(path) for path in images] + [str(path) for path in evidence_files]
    packs = (vision_packs(images, settings) if images else []) + evidence_packs(evidence_files)
    with llm_settings(settings, local_llm) as current:
        writer = CaptionWriter(current)
        results = [writer.write(pack, meta) for pack in packs]
    if as_json:
        payload: Any = [r.model_dump(mode="json") for r in results]
        click.echo(json.dumps(payload[0] if len(payload) == 1 else payload, indent=2))
        return
    for source, result in zip(sources, results, strict=True):
        _print_text(source, result)
