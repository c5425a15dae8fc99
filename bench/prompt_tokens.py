"""How long is the prompt, and how much of it must the embedded server evaluate per caption?

    python bench/prompt_tokens.py [--items 36] [--before caption-v5-commit]

llama-cpp-python keeps the KV cache of the previous request and evaluates only the tokens after the longest common
prefix, so what a caption costs in prompt evaluation is (prompt tokens - prefix shared with the previous request).
For the same evidence packs in the same order (var/bench/packs.json, written by bench/style_examples.py) this
counts both, with the embedded model's own tokenizer over its ChatML template, for the prompt of an older commit
(`--before`, read with `git show`) and for today's prompt in each style mode, with the style examples the vision
stage gives (`labels`) and with the shop's own copy of the neighbours (`copy`). Deterministic: no generation runs.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from pixels2posts.evaluation.dataset import read_dataset
from shared.schemas import EvidencePack
from shared.settings import get_settings
from workers.language.grounding import Evidence

sys.path.insert(0, str(Path(__file__).parent))
from style_examples import ARTICLES, shop_copy, with_style


def older_prompt(commit: str) -> ModuleType:
    source = subprocess.run(["git", "show", f"{commit}:workers/language/prompt.py"], capture_output=True, text=True,
                            check=True).stdout
    path = Path(tempfile.mkdtemp()) / "prompt_before.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("prompt_before", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["prompt_before"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def chatml(messages: list[dict[str, str]]) -> str:
    """SmolLM2-Instruct's chat template (ChatML), with the generation prompt."""
    return "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages) + "<|im_start|>assistant\n"


def counts(prompts: list[str], tokenize: Callable[[str], list[int]]) -> dict[str, Any]:
    totals: list[int] = []
    fresh: list[int] = []
    previous: list[int] = []
    for prompt in prompts:
        tokens = tokenize(prompt)
        shared = 0
        for a, b in zip(tokens, previous, strict=False):
            if a != b:
                break
            shared += 1
        totals.append(len(tokens))
        fresh.append(len(tokens) - shared)
        previous = tokens
    return {"prompt_tokens_median": statistics.median(totals), "evaluated_tokens_median": statistics.median(fresh[1:]),
            "evaluated_tokens_mean": round(statistics.mean(fresh[1:]), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=36)
    parser.add_argument("--before", default="fe87150", help="the commit whose prompt.py is the 'before'")
    args = parser.parse_args()
    from llama_cpp import Llama

    from workers.language import prompt
    from workers.language.local_llm import gguf_path

    model = Llama(model_path=str(gguf_path(get_settings())), vocab_only=True, verbose=False)

    def tokenize(text: str) -> list[int]:
        return list(model.tokenize(text.encode(), add_bos=False, special=True))

    packs = [EvidencePack.model_validate(p) for p in json.loads(Path("var/bench/packs.json").read_text()).values()]
    packs = packs[: args.items]
    copy = shop_copy(ARTICLES, read_dataset(Path("var/eval/hm-test.csv")))
    before = older_prompt(args.before)
    rows: dict[str, dict[str, Any]] = {}
    for source in ("none", "labels", "copy"):
        styled = [with_style(pack, source, copy) for pack in packs]
        rows[f"{args.before} ({before.PROMPT_VERSION}), {source}"] = counts(
            [chatml(before.build_messages(p, Evidence.of(p))) for p in styled], tokenize)
        for mode in prompt.STYLE_MODES:
            rows[f"now ({prompt.PROMPT_VERSION}, {mode}), {source}"] = counts(
                [chatml(prompt.build_messages(p, Evidence.of(p), style_mode=mode)) for p in styled], tokenize)
    print(f"# {len(packs)} H&M test products in a row (vision-stage evidence), SmolLM2 tokenizer, ChatML")
    print("| prompt, style examples | prompt tokens (median) | evaluated per caption (median) | evaluated (mean) |")
    print("|---|---:|---:|---:|")
    for name, row in rows.items():
        print(f"| {name} | {row['prompt_tokens_median']} | {row['evaluated_tokens_median']} | "
              f"{row['evaluated_tokens_mean']} |")


if __name__ == "__main__":
    main()
