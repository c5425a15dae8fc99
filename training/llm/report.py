"""Before/after table of the caption LLM from `pixels2posts eval captions --json` runs of the same items:

`python -m training.llm.report base=var/llm-eval/before-hm.json lora=var/llm-eval/after-hm.json`

prints one markdown row per run: LLM-written share, truth recall and contradiction rate (all captions), open claims,
seconds per item, lexical overlap with the catalogue's descriptions, and how varied the LLM's captions are (distinct
captions among those it wrote, and the share that open with the "<garment>: <praise>" frame the base model
favours).
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

COLUMNS = ("n", "LLM share", "truth recall", "contradiction", "open claims / item", "s / item", "BLEU-4", "METEOR",
           "ROUGE-L", "CIDEr", "distinct LLM captions", "LLM captions 'X: ...'")
LEXICAL = ("bleu4", "meteor", "rougeL", "cider")
_FRAME = re.compile(r"^[^.!?:]{1,40}:\s")


def _ci(metric: dict[str, Any], digits: int = 3) -> str:
    return f"{metric['value']:.{digits}f} [{metric['low']:.{digits}f}, {metric['high']:.{digits}f}]"


def _lexical(lexical: dict[str, Any], name: str) -> str:
    """The metric's mean; a dataset without reference descriptions has none."""
    return f"{lexical[name]['value']:.3f}" if name in lexical else "—"


def row(name: str, run: dict[str, Any]) -> list[str]:
    metrics = run["metrics"]
    lexical = metrics.get("lexical") or {}
    llm = [record["caption"] for record in run["records"] if record["writer"] == "llm"]
    framed = sum(1 for caption in llm if _FRAME.match(caption))
    return [name, str(metrics["items"]), f"{run['llm_share']:.3f}", _ci(metrics["truth_recall"]),
            _ci(metrics["contradiction_rate"]), f"{metrics['open_claims_per_item']['value']:.3f}",
            f"{metrics['seconds_per_item']['value']:.2f}", *(_lexical(lexical, name) for name in LEXICAL),
            f"{len(set(llm)) / max(1, len(llm)):.2f}", f"{framed / max(1, len(llm)):.2f}"]


def table(runs: Sequence[tuple[str, dict[str, Any]]]) -> str:
    lines = ["| run | " + " | ".join(COLUMNS) + " |", "|---|" + "---:|" * len(COLUMNS)]
    lines += ["| " + " | ".join(row(name, run)) + " |" for name, run in runs]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        raise SystemExit(__doc__)
    runs = []
    for arg in args:
        name, _, path = arg.partition("=")
        runs.append((name, json.loads(Path(path).read_text(encoding="utf-8"))))
    print(table(runs))


if __name__ == "__main__":
    main()
