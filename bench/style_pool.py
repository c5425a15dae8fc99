"""Pool runs of bench/style_examples.py (same conditions, different items) into one table with paired CIs.

    python bench/style_pool.py var/bench/style-a.json var/bench/style-b.json

Items are pooled as they are (each run's records per condition, in item order), so the paired differences
against the first condition and the per-condition summaries are over all items of all runs.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from style_examples import _text, paired, summarise


def main() -> None:
    runs = [json.loads(Path(name).read_text()) for name in sys.argv[1:]]
    styles: list[str] = runs[0]["styles"]
    records: dict[str, list[dict[str, Any]]] = {style: [] for style in styles}
    for run in runs:
        if run["styles"] != styles:
            raise SystemExit(f"conditions differ: {run['styles']} vs {styles}")
        for style in styles:
            records[style] += run["records"][style]
    loads = ", ".join(f"{run['loadavg_before'][0]:.2f} -> {run['loadavg_after'][0]:.2f}" for run in runs)
    print(f"# {len(records[styles[0]])} H&M test products ({len(runs)} runs), load average {loads}")
    for style in styles:
        row = summarise(records[style])
        print(f"## {style}: LLM share {row['llm_share']:.2f}, contradiction {_text(row['contradiction_rate'])}, "
              f"open claims {row['open_claims']}, median {row['seconds_median']:.1f} s, "
              f"LLM copied 4-gram {_text(row['llm_copied_4gram'])}")
        for scope in ("all", "llm"):
            print(f"   {scope:<4} " + ", ".join(f"{k} {_text(v)}" for k, v in row[scope].items()))
    for style in styles[1:]:
        diff = paired(records[styles[0]], records[style])
        print(f"## {style} - {styles[0]} (paired): " + ", ".join(f"{k} {_text(v)}" for k, v in diff.items()))
    if {"template", "copytemplate"} <= set(styles):  # the deterministic writer alone, with vs without the copy
        diff = paired(records["template"], records["copytemplate"])
        print("## copytemplate - template (paired): " + ", ".join(f"{k} {_text(v)}" for k, v in diff.items()))


if __name__ == "__main__":
    main()
