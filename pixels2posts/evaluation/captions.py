"""Caption evaluation against catalogue truth: run a system over a labelled set, score each item, summarise.

Per item: truth recall and contradictions (truth.py), evidence coverage (the paper's attribute coverage, items with
a non-empty evidence pack only), open claims (open_claims.py), hashtag coverage against truth and against the
evidence, lexical overlap with the reference description (lexical.py), seconds. Every mean gets a bootstrap 95%
CI; the summary is given for all items and apart for LLM-written and fallback-written captions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from pixels2posts.evaluation import lexical
from pixels2posts.evaluation.dataset import EvalItem
from pixels2posts.evaluation.open_claims import CATEGORIES, count_open_claims
from pixels2posts.evaluation.stats import Estimate, mean_ci
from pixels2posts.evaluation.systems import CaptionSystem, SystemOutput
from pixels2posts.evaluation.truth import ATTRIBUTES, hashtag_truth_coverage, score_caption

HASHTAG_THRESHOLDS: tuple[float, ...] = (0.25, 0.5, 0.75, 1.0)


def _evidence_coverage(output: SystemOutput) -> tuple[float | None, float | None]:
    """(caption, hashtag) coverage of the evidence attributes; None without evidence or with an empty pack."""
    if output.evidence is None:
        return None, None
    from workers.language.grounding import Evidence, check

    evidence = Evidence.of(output.evidence)
    if not evidence.attributes:
        return None, None
    report = check(evidence, output.caption, output.hashtags)
    return report.attribute_coverage, report.hashtag_coverage


def score_item(item: EvalItem, output: SystemOutput) -> dict[str, Any]:
    truth = score_caption(output.caption, item.truth)
    coverage, tag_coverage = _evidence_coverage(output)
    return {
        "id": item.id, "image": str(item.image), "writer": output.writer, "caption": output.caption,
        "hashtags": output.hashtags, "reference": item.reference,
        "truth": {a: sorted(v) for a, v in item.truth.values.items()},
        "truth_recall": truth.recall,
        "stated": truth.stated, "correct": truth.correct, "contradicted": truth.contradicted,
        "any_contradiction": truth.any_contradiction,
        "evidence_coverage": coverage,
        "hashtag_truth_coverage": hashtag_truth_coverage(output.hashtags, item.truth) if output.hashtags else None,
        "hashtag_evidence_coverage": tag_coverage,
        "open_claims": dict(count_open_claims(output.caption)),
        "evidence": output.evidence.model_dump(mode="json") if output.evidence else None,
        "seconds": output.seconds,
    }


def run(items: Sequence[EvalItem], system: CaptionSystem,
        progress: Callable[[int, dict[str, Any]], None] | None = None) -> list[dict[str, Any]]:
    records = []
    if items:  # warm-up, untimed: model loading is not a per-item cost
        system.caption(items[0].image)
    for index, item in enumerate(items, 1):
        records.append(score_item(item, system.caption(item.image)))
        if progress is not None:
            progress(index, records[-1])
    with_reference = [r for r in records if r["reference"]]
    for record, scores in zip(with_reference, lexical.per_item([r["caption"] for r in with_reference],
                                                              [r["reference"] for r in with_reference]), strict=True):
        record["lexical"] = scores
    return records


def _mean_of(flags: Sequence[bool | float | None]) -> Estimate:
    """Share of true flags (or mean of values), None left out, with its CI."""
    return mean_ci([None if v is None else float(v) for v in flags])


def _attribute_table(records: Sequence[dict[str, Any]]) -> dict[str, dict[str, Estimate]]:
    """Per attribute, over the items whose truth knows it: recall (stated correctly), contradiction rate."""
    table = {}
    for attribute in ATTRIBUTES:
        known = [r for r in records if attribute in r["correct"]]
        recallable = [r for r in known if len(r["truth"][attribute]) == 1 or attribute == "colour"]
        table[attribute] = {
            "truth_recall": _mean_of([r["correct"][attribute] for r in recallable]),
            "contradiction_rate": _mean_of([r["contradicted"][attribute] for r in known]),
            "stated_rate": _mean_of([r["stated"][attribute] for r in known]),
        }
    return table


def summarise(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    metrics: dict[str, Any] = {
        "items": len(records),
        "truth_recall": mean_ci([r["truth_recall"] for r in records]),
        "contradiction_rate": _mean_of([r["any_contradiction"] if r["correct"] else None for r in records]),
        "per_attribute": _attribute_table(records),
        "evidence_coverage": mean_ci([r["evidence_coverage"] for r in records]),
        "items_with_evidence": sum(r["evidence_coverage"] is not None for r in records),
        "open_claims_per_item": mean_ci([float(sum(r["open_claims"].values())) for r in records]),
        "open_claims_by_category": {c: sum(r["open_claims"].get(c, 0) for r in records) for c in CATEGORIES},
        "seconds_per_item": mean_ci([r["seconds"] for r in records]),
    }
    for source in ("truth", "evidence"):
        values = [r[f"hashtag_{source}_coverage"] for r in records]
        metrics[f"hashtag_{source}_coverage"] = {
            f">={t}": _mean_of([None if v is None else v >= t for v in values]) for t in HASHTAG_THRESHOLDS
        } | {"mean": mean_ci(values)}
    lexical_rows = [r["lexical"] for r in records if "lexical" in r]
    metrics["lexical"] = lexical.summarise(lexical_rows) if lexical_rows else {}
    return metrics


def report(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The summary for all items and per writer, with the LLM's share of published captions."""
    writers = sorted({r["writer"] for r in records})
    llm = sum(r["writer"] == "llm" for r in records)
    return {
        "all": summarise(records),
        "by_writer": {w: summarise([r for r in records if r["writer"] == w]) for w in writers} if len(writers) > 1
        else {},
        "items": len(records),
        "llm_share": llm / len(records) if records else 0.0,
        "seconds_per_item": mean_ci([r["seconds"] for r in records]),
        "meteor_variant": lexical.meteor_variant() if any("lexical" in r for r in records) else None,
    }


def jsonable(value: Any) -> Any:
    if isinstance(value, Estimate):
        return value.as_dict()
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value
