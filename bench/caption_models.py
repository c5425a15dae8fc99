"""Which embedded LLM writes captions a shop would publish? One table per run, against catalogue truth.

    python bench/caption_models.py --model gemma-3-270m [--items 40] [--no-style] [--attempts 3]

H&M products of the product-level test split; evidence from their catalogue labels (garment type, colour group,
fabric word, index group -> gender), so the evidence is the truth. Per run: share of captions the LLM wrote (the
rest: deterministic writer), contradictions of the truth in the published captions and in every raw model draft
(a colour, garment, fabric or gender the product does not have), open claims (published and raw), median seconds
per caption, and the style overlap: share of a published LLM caption's content words found in the shop's own
product copy given as style examples (compare a run with --no-style, which leaves the examples out of the prompt).
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from pixels2posts.evaluation.language_only import hm_packs
from shared.settings import REPO_ROOT, get_settings
from workers.language import open_claims
from workers.language.claims import text_claims
from workers.language.grounding import Evidence, unsupported_claims
from workers.language.local_llm import running_local_llm
from workers.language.pipeline import CaptionWriter
from workers.language.vocabulary import is_attribute_word, words_of

CATALOG = REPO_ROOT.parent / "shared" / "data" / "hm-catalog" / "articles.csv"
_STOPWORDS_TEXT = (
    "a an the and or with for in on of to at by as is are this that it its your our their from over into "
    "up out all any so be can will just"
)
STOPWORDS = frozenset(_STOPWORDS_TEXT.split())


@dataclass
class Tally:
    items: int = 0
    by_llm: int = 0
    published_contradictions: int = 0
    published_open: int = 0
    drafts: int = 0
    drafts_contradicting: int = 0
    drafts_open: int = 0
    seconds: list[float] = field(default_factory=list)
    overlaps: list[float] = field(default_factory=list)
    examples: list[str] = field(default_factory=list)


def content_words(text: str) -> list[str]:
    return [w for w in words_of(text) if w not in STOPWORDS and not is_attribute_word(w) and not w.isdigit()]


def style_overlap(caption: str, examples: list[str]) -> float | None:
    words = content_words(caption)
    if not words:
        return None
    copy = {w for example in examples for w in words_of(example)}
    return sum(w in copy for w in words) / len(words)


def run(model: str, items: int, style: bool, attempts: int, catalog: Path) -> Tally:
    packs = hm_packs(catalog, items)
    settings = get_settings().model_copy(update={
        "llm_embedded_model": model, "llm_model": model, "llm_max_attempts": attempts, "llm_timeout_s": 120.0})
    tally = Tally()
    with running_local_llm(settings) as local:
        writer = CaptionWriter(local)
        writer.write(packs[0][1])  # warm-up
        for _, pack in packs:
            examples = list(pack.style_examples)
            prompt_pack = pack if style else pack.model_copy(update={"style_examples": []})
            evidence = Evidence.of(pack)
            started = time.perf_counter()
            result = writer.write(prompt_pack)
            tally.seconds.append(time.perf_counter() - started)
            tally.items += 1
            tally.published_contradictions += bool(unsupported_claims(evidence, text_claims(result.caption)))
            tally.published_open += bool(open_claims.find(result.caption))
            for reply in writer.last_replies:
                tally.drafts += 1
                tally.drafts_contradicting += bool(unsupported_claims(evidence, text_claims(reply.draft.caption)))
                tally.drafts_open += bool(open_claims.find(reply.draft.caption))
            print(f"[{tally.items}/{len(packs)}] {'llm' if not result.provenance.fallback else 'template'} "
                  f"{tally.seconds[-1]:.1f}s {result.caption}", file=sys.stderr, flush=True)
            if not result.provenance.fallback:
                tally.by_llm += 1
                overlap = style_overlap(result.caption, examples)
                if overlap is not None:
                    tally.overlaps.append(overlap)
                if len(tally.examples) < 5:
                    tally.examples.append(result.caption)
    return tally


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=get_settings().llm_embedded_model,
                        help="an embedded model name (workers.language.local_llm.EMBEDDED_MODELS) or a .gguf path")
    parser.add_argument("--items", type=int, default=40)
    parser.add_argument("--attempts", type=int, default=get_settings().llm_max_attempts)
    parser.add_argument("--no-style", dest="style", action="store_false", help="leave the style examples out")
    parser.add_argument("--catalog", type=Path, default=CATALOG)
    parser.add_argument("-v", "--verbose", action="store_true", help="log each rejected draft and why")
    args = parser.parse_args()
    if args.verbose:
        logging.basicConfig(level=logging.WARNING, format="%(message)s")
        logging.getLogger("workers.language.pipeline").setLevel(logging.INFO)
    tally = run(args.model, args.items, args.style, args.attempts, args.catalog)
    share = tally.by_llm / tally.items
    print(f"# {args.model}, {tally.items} H&M test products, style examples {'on' if args.style else 'off'}, "
          f"up to {args.attempts} attempts\n")
    print("| model | LLM-written share | contradicting (published) | open claims (published) | drafts | "
          "drafts contradicting | drafts with open claims | median s/caption | style overlap (LLM captions) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    overlap = statistics.mean(tally.overlaps) if tally.overlaps else float("nan")
    print(f"| {args.model} | {share:.0%} ({tally.by_llm}/{tally.items}) | {tally.published_contradictions} | "
          f"{tally.published_open} | {tally.drafts} | {tally.drafts_contradicting / max(1, tally.drafts):.0%} | "
          f"{tally.drafts_open / max(1, tally.drafts):.0%} | {statistics.median(tally.seconds):.2f} | "
          f"{overlap:.2f} |")
    print("\nLLM captions:")
    for example in tally.examples:
        print(f"- {example}")


if __name__ == "__main__":
    main()
