"""The paper's table from evaluation results: rows = systems, columns = metrics with 95% CIs; and the plots.

`results` maps (row, domain) to the JSON object `pixels2posts eval captions --json` prints.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path
from typing import Any

from shared.settings import Settings

# row -> (system, deterministic writer only, embedded LLM)
ROWS: dict[str, tuple[str, bool, bool]] = {
    "baseline": ("baseline", False, False),
    "ungated": ("rag", True, False),
    "deterministic": ("rag", True, False),
    "local-llm": ("rag", False, True),
    "endpoint": ("rag", False, False),
}
# rows whose vision stage states every claim the models answered (the statement gates at 0)
UNGATED_ROWS = frozenset({"ungated"})
ROW_NAMES = {
    "baseline": "end-to-end baseline (EfficientNet-Lite0 + GRU)",
    "ungated": "pixels2posts, deterministic writer, statement gates off",
    "deterministic": "pixels2posts, deterministic writer only",
    "local-llm": "pixels2posts + embedded LLM ({model})",
    "endpoint": "pixels2posts + OpenAI-compatible LLM",
}
DOMAINS = {"hm": "H&M test products (in domain)", "clothing": "clothing-photos test contributors (out of domain)"}
ATTRIBUTES = ("garment", "colour", "gender", "fabric")


def row_name(row: str) -> str:
    """The row's display name; the embedded LLM's is the configured `P2P_LLM_EMBEDDED_MODEL`."""
    from shared.settings import get_settings

    return ROW_NAMES[row].format(model=get_settings().llm_embedded_model)


def endpoint_answers(settings: Settings) -> bool:
    """True when P2P_LLM_BASE_URL is set and its /models answers (the 'any OpenAI-compatible LLM' row)."""
    if "P2P_LLM_BASE_URL" not in os.environ:
        return False
    import httpx

    try:
        return httpx.get(f"{settings.llm_base_url.rstrip('/')}/models", timeout=3.0).status_code < 500
    except httpx.HTTPError:
        return False


def _ci(estimate: dict[str, Any] | None, digits: int = 2, scale: float = 1.0) -> str:
    if not estimate or estimate.get("value") is None:
        return "n/a"
    value, low, high = (estimate[k] * scale if estimate.get(k) is not None else None for k in ("value", "low", "high"))
    if low is None or high is None:
        return f"{value:.{digits}f}"
    return f"{value:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def headline(metrics: dict[str, Any]) -> dict[str, str]:
    """The main numbers of one summary as text with CIs."""
    lexical = metrics.get("lexical") or {}
    out = {
        "truth recall": _ci(metrics["truth_recall"]),
        "contradiction rate (any attribute)": _ci(metrics["contradiction_rate"]),
    }
    for attribute in ATTRIBUTES:
        row = metrics["per_attribute"][attribute]
        out[f"{attribute}: recall / contradiction"] = (f"{_ci(row['truth_recall'])} / "
                                                       f"{_ci(row['contradiction_rate'])}")
    out |= {
        "evidence coverage (non-empty packs)": f"{_ci(metrics['evidence_coverage'])} "
                                               f"(n={metrics['items_with_evidence']})",
        "open claims per item": _ci(metrics["open_claims_per_item"], 3),
        "hashtag truth coverage >= 0.5": _ci(metrics["hashtag_truth_coverage"][">=0.5"]),
        "hashtag evidence coverage >= 0.5": _ci(metrics["hashtag_evidence_coverage"][">=0.5"]),
    }
    for name in ("bleu1", "bleu4"):
        out[name.upper()] = _ci(lexical.get(name), 1)
    for name in ("meteor", "rouge1", "rouge2", "rougeL", "cider"):
        out[name] = _ci(lexical.get(name), 3)
    out["seconds per item"] = _ci(metrics["seconds_per_item"])
    return out


def _truth_table(results: dict[tuple[str, str], dict[str, Any]], domain: str) -> list[str]:
    lines = ["| system | n | truth recall | contradiction rate | garment contr. | colour contr. | gender contr. | "
             "fabric contr. | evidence coverage | open claims / item | LLM share | s / item |",
             "|---|---:|---|---|---|---|---|---|---|---|---:|---|"]
    for (row, dom), result in results.items():
        if dom != domain:
            continue
        m = result["metrics"]
        per = m["per_attribute"]
        lines.append(" | ".join([
            f"| {row_name(row)}", str(result["items"]), _ci(m["truth_recall"]), _ci(m["contradiction_rate"]),
            *(_ci(per[a]["contradiction_rate"]) for a in ATTRIBUTES), _ci(m["evidence_coverage"]),
            _ci(m["open_claims_per_item"], 3), f"{result['llm_share']:.2f}", _ci(result["seconds_per_item"]),
        ]) + " |")
    return lines


def _text_table(results: dict[tuple[str, str], dict[str, Any]], domain: str) -> list[str]:
    lines = ["| system | hashtag truth cov. >= 0.25 / 0.5 / 0.75 / 1.0 | hashtag evidence cov. >= 0.5 | BLEU-1 | "
             "BLEU-4 | METEOR | ROUGE-1 | ROUGE-2 | ROUGE-L | CIDEr-D |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for (row, dom), result in results.items():
        if dom != domain:
            continue
        m, lexical = result["metrics"], result["metrics"].get("lexical") or {}
        truth_tags = m["hashtag_truth_coverage"]
        tags = " / ".join(_ci(truth_tags[f">={t}"]).split(" [")[0] for t in (0.25, 0.5, 0.75, 1.0))
        lines.append(" | ".join([
            f"| {row_name(row)}", tags if truth_tags[">=0.5"].get("value") is not None else "n/a",
            _ci(m["hashtag_evidence_coverage"][">=0.5"]), _ci(lexical.get("bleu1"), 1), _ci(lexical.get("bleu4"), 1),
            *(_ci(lexical.get(k), 3) for k in ("meteor", "rouge1", "rouge2", "rougeL", "cider")),
        ]) + " |")
    return lines


def _writer_lines(results: dict[tuple[str, str], dict[str, Any]], domain: str) -> list[str]:
    """LLM-written and fallback-written captions reported apart, for rows where both published."""
    lines = []
    for (row, dom), result in results.items():
        if dom != domain or len(result["by_writer"]) < 2:
            continue
        for writer, m in result["by_writer"].items():
            lines.append(f"- {row_name(row)}, written by **{writer}** (n={m['items']}): truth recall "
                         f"{_ci(m['truth_recall'])}, contradiction rate {_ci(m['contradiction_rate'])}, "
                         f"evidence coverage {_ci(m['evidence_coverage'])}, open claims / item "
                         f"{_ci(m['open_claims_per_item'], 3)}")
    return [*lines, ""] if lines else []


def markdown(results: dict[tuple[str, str], dict[str, Any]]) -> str:
    lines: list[str] = []
    for domain, title in DOMAINS.items():
        if not any(dom == domain for _, dom in results):
            continue
        lines += [f"### {title}", "", *_truth_table(results, domain), "", *_writer_lines(results, domain)]
        if domain == "hm":
            lines += [*_text_table(results, domain), ""]
        else:
            lines += [*(line.replace(" | BLEU-1", " | BLEU-1 (no reference)") if i == 0 else line
                        for i, line in enumerate(_text_table(results, domain))), ""]
    variant = next((r["meteor_variant"] for r in results.values() if r.get("meteor_variant")), None)
    if variant:
        lines.append(f"METEOR: {variant}.")
    return "\n".join(lines)


def plot_all(results: dict[tuple[str, str], dict[str, Any]], out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    return [plot_attributes(results, out_dir / "attributes.png"), plot_gallery(results, out_dir / "gallery.png")]


def plot_attributes(results: dict[tuple[str, str], dict[str, Any]], path: Path) -> Path:
    """Per-attribute truth recall and contradiction rate with 95% CIs, per domain and system."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    domains = [d for d in DOMAINS if any(dom == d for _, dom in results)]
    figure, axes = plt.subplots(2, len(domains), figsize=(6.5 * len(domains), 7.5), squeeze=False)
    for column, domain in enumerate(domains):
        rows = [row for row, dom in results if dom == domain]
        width = 0.8 / max(1, len(rows))
        for line, metric in enumerate(("truth_recall", "contradiction_rate")):
            axis = axes[line][column]
            for n, row in enumerate(rows):
                per = results[(row, domain)]["metrics"]["per_attribute"]
                values = [per[a][metric].get("value") or 0.0 for a in ATTRIBUTES]
                lows = [v - (per[a][metric].get("low") or v) for a, v in zip(ATTRIBUTES, values, strict=True)]
                highs = [(per[a][metric].get("high") or v) - v for a, v in zip(ATTRIBUTES, values, strict=True)]
                axis.bar([i + n * width for i in range(len(ATTRIBUTES))], values, width, yerr=[lows, highs],
                         capsize=3, label=row_name(row))
            axis.set_xticks([i + width * (len(rows) - 1) / 2 for i in range(len(ATTRIBUTES))], ATTRIBUTES)
            axis.set_ylim(0, 1)
            axis.set_title(f"{metric.replace('_', ' ')}: {DOMAINS[domain]}", fontsize=9)
    axes[0][0].legend(fontsize=7, loc="upper right")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


# the gallery is committed: only CC0 photos (clothing-photos) may be redistributed, never H&M's product shots
GALLERY_DOMAINS: tuple[str, ...] = ("clothing",)


def _gallery_picks(results: dict[tuple[str, str], dict[str, Any]], count: int) -> list[tuple[dict[str, Any], str]]:
    """Evenly spaced items of the best LLM row of each gallery domain, with the baseline's caption of the same item."""
    picks = []
    for domain in GALLERY_DOMAINS:
        row = next((r for r in ("endpoint", "local-llm", "deterministic") if (r, domain) in results), None)
        if row is None:
            continue
        records = results[(row, domain)]["records"]
        baseline = {r["id"]: r["caption"] for r in results.get(("baseline", domain), {"records": []})["records"]}
        share = max(1, count // len(GALLERY_DOMAINS))
        step = max(1, len(records) // share)
        picks += [(r, baseline.get(r["id"], "")) for r in records[::step][:share]]
    return picks


def plot_gallery(results: dict[tuple[str, str], dict[str, Any]], path: Path, count: int = 12) -> Path:
    """Twelve examples: the photo with its evidence drawn, the published caption, the baseline's, the truth."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from pixels2posts.evaluation.draw import draw_evidence
    from shared.images import load_image
    from shared.schemas import EvidencePack

    picks = _gallery_picks(results, count)
    columns = 4
    rows = max(1, (len(picks) + columns - 1) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 6.0 * rows), squeeze=False)
    for axis in axes.flat:
        axis.axis("off")
    for axis, (record, baseline) in zip(axes.flat, picks, strict=False):
        image = load_image(record["image"])
        pack = EvidencePack.model_validate(record["evidence"]) if record.get("evidence") else None
        axis.imshow(draw_evidence(image, pack) if pack else image.rgb)
        truth = ", ".join(f"{k}={'/'.join(v)}" for k, v in record["truth"].items())
        wrong = [a for a, bad in record["contradicted"].items() if bad]
        text = (f"[{record['writer']}] {record['caption']}\n[baseline] {baseline or 'n/a'}\n"
                f"truth: {truth}\ncontradicted: {', '.join(wrong) or 'none'}")
        axis.set_title("\n".join(textwrap.fill(line, 52) for line in text.split("\n")), fontsize=6.5, loc="left")
    figure.tight_layout()
    figure.savefig(path, dpi=72)
    plt.close(figure)
    return path
