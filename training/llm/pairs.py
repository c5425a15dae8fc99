"""Training pairs for the caption LLM by rejection sampling: the language stage's own prompt for an H&M train-split
product photo, and the caption the embedded model wrote for it that passed every check a published caption passes.

Why not the shop's descriptions as answers: they state what the evidence cannot ("with a hood", "off-the-shoulder",
"with elasticated smocking"), so a model taught on them would invent details for every photo. The drafts kept here
are the model's own, filtered by the grounding, open-claim, quality and coverage checks of `CaptionWriter` (the
published caption and hashtags, polished as published), so the fine-tune teaches the model to write on its first
attempt what it now writes on some attempt, and nothing the checks would refuse. Split by product
(`pixels2posts.catalog.reader.split_of`): test and calibration products are never read.

`python -m training.llm.pairs --catalog ../shared/data/hm-catalog --out training/runs/llm/pairs.jsonl --limit 1200`
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from shared.schemas import EvidencePack
from shared.settings import Settings, get_settings
from workers.language.grounding import Evidence
from workers.language.pipeline import CaptionWriter
from workers.language.prompt import build_messages
from workers.language.shop_copy import ShopCopy

SAMPLING_TEMPERATURE = 0.3  # the plain model's: at 0.6 it has fewer drafts published (models/llm/MODEL_CARD.md)


def train_rows(catalog: Path, limit: int) -> list[dict[str, str]]:
    from pixels2posts.catalog.reader import split_of
    from pixels2posts.evaluation.dataset import hm_rows

    return hm_rows(catalog, lambda product_code: split_of(product_code) == "train")[:limit]


def packs(rows: Sequence[dict[str, str]], settings: Settings, batch: int = 8) -> Iterator[EvidencePack]:
    """The evidence packs the vision worker would make of the rows' photos, in order."""
    from shared.images import load_image
    from workers.vision.pipeline import VisionPipeline

    vision = VisionPipeline(settings)
    for start in range(0, len(rows), batch):
        images = [load_image(row["image"], min_side=vision.min_side) for row in rows[start:start + batch]]
        yield from vision.evidence_batch(images)


def sample(writer: CaptionWriter, pack: EvidencePack) -> tuple[dict[str, Any] | None, str]:
    """(pair, outcome): the published LLM caption of the pack as a pair, or None and why not."""
    result = writer.write(pack)
    if result.provenance.fallback:
        return None, f"fallback: {result.provenance.fallback_reason}"
    messages = build_messages(pack, Evidence.of(pack), None, writer.style_mode)
    answer = json.dumps({"caption": result.caption, "hashtags": list(result.hashtags)})
    return {"messages": messages, "answer": answer}, f"llm, attempt {result.provenance.attempts}"


def main(argv: Sequence[str] | None = None) -> None:
    from workers.language.local_llm import running_local_llm

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--catalog", type=Path, required=True, help="The H&M catalogue folder (articles.csv, images/).")
    parser.add_argument("--out", type=Path, required=True, help="JSONL of pairs (never commit: made from H&M photos).")
    parser.add_argument("--limit", type=int, default=1200, help="Train-split products read.")
    parser.add_argument("--concurrency", type=int, default=8, help="Captions written at once.")
    parser.add_argument("--temperature", type=float, default=SAMPLING_TEMPERATURE, help="Of the first attempt.")
    args = parser.parse_args(argv)
    # drafts of the plain model (not of an adapter already applied by default), as the bundled adapter's were made
    settings = get_settings().model_copy(update={"llm_lora": "", "llm_temperature": args.temperature})
    rows = train_rows(args.catalog, args.limit)
    started = time.perf_counter()
    all_packs = list(packs(rows, settings))
    print(f"{len(all_packs)} packs in {time.perf_counter() - started:.0f} s", flush=True)
    outcomes = Counter[str]()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with running_local_llm(settings) as local, ThreadPoolExecutor(args.concurrency) as pool, \
            args.out.open("w", encoding="utf-8") as handle:
        # one writer for all threads, as a language worker shares its own (no shop copy: no style examples)
        writer = CaptionWriter(local, shop_copy=ShopCopy({}))
        for row, (made, outcome) in zip(rows, pool.map(lambda p: sample(writer, p), all_packs), strict=True):
            outcomes[outcome] += 1
            if made is not None:
                handle.write(json.dumps({"id": row["id"], **made}, ensure_ascii=False) + "\n")
    kept = sum(n for outcome, n in outcomes.items() if outcome.startswith("llm"))
    print(f"{kept} pairs of {len(rows)} products in {time.perf_counter() - started:.0f} s: {dict(outcomes)}")


if __name__ == "__main__":
    main()
