"""Do the style examples shape the style? Lexical overlap of published captions with the shop's own descriptions,
with and without style examples in the prompt, on the same H&M test products and the same evidence.

    python bench/style_examples.py --items 36 --styles none,copy:tone,copy:pairs [--out var/bench/style.json]

Items: the first N of the H&M test CSV (`pixels2posts eval testsets`), product-level test split, so neither the
product nor its colour variants are in the index. Evidence: each photo through the vision stage once (cached), so
every condition captions the same pack; only `style_examples` (and the prompt built from them) change:
- `none`:   no style examples;
- `labels`: what the vision stage puts there (phrases made from the neighbours' labels: "beige blazer");
- `template`: no LLM at all, the deterministic writer (for its seconds);
- `copy`:   the shop's own descriptions of the nearest catalogue products (the pack's neighbours, train split, read
            from articles.csv by workers.language.shop_copy, every dataset id and description left out), the
            issue's "nearest catalogue items' descriptions";
- `copytemplate`: the same copy, the deterministic writer alone (its shop frame, shop_style.frame_of).
`SOURCE:MODE` picks how the prompt uses them (workers.language.prompt.STYLE_MODES: tone, pairs, phrases, masked);
no mode: the prompt's default; `SOURCE:MODE@N`: only the first N attempts show the examples (CaptionWriter
style_attempts), later ones retry without them.
Conditions are interleaved item by item in one embedded-LLM server, so machine load falls on all of them alike.
Per condition: LLM-written share, ROUGE-L F1 (mean, per item) and corpus BLEU-1 against the product's reference
description (all published captions, and LLM-written ones), truth contradiction rate, prompt tokens, median seconds;
and paired differences against the first condition with bootstrap 95% CIs (items resampled).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from pixels2posts.evaluation import lexical
from pixels2posts.evaluation.captions import score_item
from pixels2posts.evaluation.dataset import EvalItem, read_dataset
from pixels2posts.evaluation.stats import Estimate, mean_ci, statistic_ci
from pixels2posts.evaluation.systems import SystemOutput
from shared.schemas import EvidencePack
from shared.settings import REPO_ROOT, get_settings
from workers.language.shop_copy import ShopCopy
from workers.language.vocabulary import words_of

ARTICLES = REPO_ROOT.parent / "shared" / "data" / "hm-catalog" / "articles.csv"
COPY_NGRAM = 4


def shop_copy(articles_csv: Path, dataset: list[EvalItem]) -> ShopCopy:
    """The catalogue's descriptions without any dataset item's id or description (no leak of a reference)."""
    return ShopCopy.load(articles_csv).without([item.id for item in dataset], [item.reference for item in dataset])


def vision_packs(items: list[EvalItem], cache: Path) -> dict[str, EvidencePack]:
    """One evidence pack per item through the vision stage, cached by item id (the stage is deterministic)."""
    known: dict[str, Any] = json.loads(cache.read_text()) if cache.is_file() else {}
    missing = [item for item in items if item.id not in known]
    if missing:
        from shared.images import load_image
        from workers.vision.pipeline import VisionPipeline

        pipeline = VisionPipeline(get_settings())
        for item in missing:  # one at a time: a batch letterboxes differently from a single photo
            known[item.id] = pipeline.evidence(load_image(item.image)).model_dump(mode="json")
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps(known))
    return {item.id: EvidencePack.model_validate(known[item.id]) for item in items}


def with_style(pack: EvidencePack, style: str, copy: ShopCopy) -> EvidencePack:
    if style in ("none", "template"):
        return pack.model_copy(update={"style_examples": []})
    if style == "labels":
        return pack
    if style in ("copy", "copytemplate"):
        return pack.model_copy(update={"style_examples": copy.examples(pack)})
    raise ValueError(f"unknown style condition {style!r}")


def copied(caption: str, examples: list[str]) -> bool:
    """The caption repeats COPY_NGRAM words of a style example verbatim (their details are another product's)."""
    words = words_of(caption)
    grams = {tuple(words[i : i + COPY_NGRAM]) for i in range(len(words) - COPY_NGRAM + 1)}
    for example in examples:
        other = words_of(example)
        if grams & {tuple(other[i : i + COPY_NGRAM]) for i in range(len(other) - COPY_NGRAM + 1)}:
            return True
    return False


def _bleu1_difference(rows: np.ndarray) -> float:
    half = rows.shape[1] // 2
    return lexical.corpus_bleu(rows[:, half:], 1) - lexical.corpus_bleu(rows[:, :half], 1)


def summarise(records: list[dict[str, Any]]) -> dict[str, Any]:
    llm = [r for r in records if r["writer"] == "llm"]
    out: dict[str, Any] = {
        "items": len(records), "llm_share": len(llm) / len(records),
        "contradiction_rate": mean_ci([float(r["any_contradiction"]) for r in records if r["correct"]]),
        "prompt_tokens_median": statistics.median(r["prompt_tokens"] for r in records if r["prompt_tokens"])
        if any(r["prompt_tokens"] for r in records) else None,
        "seconds_median": statistics.median(r["write_seconds"] for r in records),
        "llm_copied_4gram": mean_ci([float(r["copied"]) for r in llm]),
        "open_claims": sum(bool(r["open_claims"]) for r in records),
        "words_median": statistics.median(len(words_of(r["caption"])) for r in records),
    }
    for scope, rows in (("all", records), ("llm", llm)):
        lex = lexical.summarise([r["lexical"] for r in rows]) if rows else {}
        out[scope] = {name: lex[name] for name in ("rougeL", "bleu1", "meteor")} if lex else {}
    return out


def paired(base: list[dict[str, Any]], other: list[dict[str, Any]]) -> dict[str, Estimate]:
    """other - base on the same items: mean ROUGE-L and METEOR differences and corpus BLEU-1 difference, bootstrap
    CIs."""
    rouge = mean_ci([o["lexical"]["rougeL"] - b["lexical"]["rougeL"] for b, o in zip(base, other, strict=True)])
    meteor = mean_ci([o["lexical"]["meteor"] - b["lexical"]["meteor"] for b, o in zip(base, other, strict=True)])
    stats = np.array([b["lexical"]["bleu_stats"]["1"] + o["lexical"]["bleu_stats"]["1"]
                      for b, o in zip(base, other, strict=True)], dtype=np.int64)
    return {"rougeL_diff": rouge, "meteor_diff": meteor,
            "bleu1_diff": statistic_ci(stats, _bleu1_difference, resamples=300)}


def run(items: list[EvalItem], packs: dict[str, EvidencePack], styles: list[str], attempts: int,
        copy: ShopCopy) -> dict[str, list[dict[str, Any]]]:
    from workers.language import prompt
    from workers.language.local_llm import running_local_llm
    from workers.language.pipeline import CaptionWriter

    default_mode = getattr(prompt, "DEFAULT_STYLE_MODE", "")  # absent before caption-v6 (--before runs)

    settings = get_settings().model_copy(update={"llm_max_attempts": attempts, "llm_timeout_s": 120.0})
    records: dict[str, list[dict[str, Any]]] = {style: [] for style in styles}
    with running_local_llm(settings) as local:
        writer = CaptionWriter(local)
        template = CaptionWriter(local, disabled_reason="no_llm")  # the deterministic writer alone
        writer.write(packs[items[0].id])  # warm-up, untimed
        for index, item in enumerate(items, 1):
            for style in styles:
                source, _, mode = style.partition(":")
                mode, _, style_attempts = mode.partition("@")
                pack = with_style(packs[item.id], source, copy)
                writer.style_mode = mode or default_mode
                writer.style_attempts = int(style_attempts or 0)
                started = time.perf_counter()
                result = (template if source.endswith("template") else writer).write(pack)
                seconds = time.perf_counter() - started
                output = SystemOutput(result.caption, list(result.hashtags),
                                      "fallback" if result.provenance.fallback else "llm", pack, seconds)
                record = score_item(item, output)
                record.update(style=style, write_seconds=seconds, prompt_version=result.provenance.prompt_version,
                              copied=copied(result.caption, pack.style_examples),
                              prompt_tokens=writer.last_replies[0].prompt_tokens
                              if writer.last_replies and not source.endswith("template") else None,
                              attempts=result.provenance.attempts, style_examples=pack.style_examples)
                records[style].append(record)
                print(f"[{index}/{len(items)}] {style:<10} {record['writer']:<8} {seconds:5.1f}s {result.caption}",
                      file=sys.stderr, flush=True)
    for rows in records.values():
        for record, scores in zip(rows, lexical.per_item([r["caption"] for r in rows],
                                                         [r["reference"] for r in rows]), strict=True):
            record["lexical"] = scores
    return records


def _text(value: Any) -> str:
    return value.text(3) if isinstance(value, Estimate) else str(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", type=Path, default=Path("var/eval/hm-test.csv"))
    parser.add_argument("--items", type=int, default=36)
    parser.add_argument("--offset", type=int, default=0, help="skip this many items first (a fresh sample)")
    parser.add_argument("--styles", default="none,copy",
                        help="comma-separated: none, labels, template, copy, copytemplate")
    parser.add_argument("--attempts", type=int, default=get_settings().llm_max_attempts)
    parser.add_argument("--articles", type=Path, default=ARTICLES)
    parser.add_argument("--out", type=Path, default=Path("var/bench/style.json"))
    args = parser.parse_args()
    dataset = read_dataset(args.dataset)
    items = [item for item in dataset if item.reference][args.offset : args.offset + args.items]
    packs = vision_packs(items, Path("var/bench/packs.json"))
    styles = [s.strip() for s in args.styles.split(",") if s.strip()]
    load_before = os.getloadavg()
    records = run(items, packs, styles, args.attempts, shop_copy(args.articles, dataset))
    summary = {style: summarise(rows) for style, rows in records.items()}
    differences = {style: paired(records[styles[0]], records[style]) for style in styles[1:]}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    payload = {"styles": styles, "items": len(items), "loadavg_before": load_before, "loadavg_after": os.getloadavg(),
               "summary": summary, "paired_vs_" + styles[0]: differences, "records": records}
    args.out.write_text(json.dumps(payload, default=lambda v: v.as_dict() if isinstance(v, Estimate) else str(v)))
    print(f"# {len(items)} H&M test products, load average before {load_before[0]:.2f}, after {os.getloadavg()[0]:.2f}")
    for style, row in summary.items():
        print(f"## {style}: LLM share {row['llm_share']:.2f}, contradiction {_text(row['contradiction_rate'])}, "
              f"prompt tokens {row['prompt_tokens_median']}, median {row['seconds_median']:.1f} s, "
              f"median words {row['words_median']}, LLM copied 4-gram {_text(row['llm_copied_4gram'])}, "
              f"captions with open claims {row['open_claims']}")
        for scope in ("all", "llm"):
            print(f"   {scope:<4} " + ", ".join(f"{k} {_text(v)}" for k, v in row[scope].items()))
    for style, diff in differences.items():
        print(f"## {style} - {styles[0]} (paired): " + ", ".join(f"{k} {_text(v)}" for k, v in diff.items()))


if __name__ == "__main__":
    main()
