"""How far the gender answer can go on calibration photos: answer rate and precision of the rules it could follow.

    python -m training.tower.gender_rules --data ../shared/data [--limit 1200]

The real `VisionPipeline` (every statement gate at 0) runs on the rows the statement gates are picked on
(`training/tower/gates.py`: H&M calibration products, leave-product-out, and the clothing-photos calibration
contributors), and keeps what the gender decision (`workers/vision/attributes.decide`) is given: the type head's
gender probabilities of the garment crops (mixed as the pipeline mixes them) and of the whole image, the neighbour
vote and the out-of-domain signal. Each rule below then answers at each threshold, and the table says how often it
answers and how often it is right: on H&M against `index_group_name` (women, men, kids; Sport has no truth), on
clothing-photos against the kids flag (wrong: "kids" for an adult's garment, "women"/"men" for a child's).

Issue 10 asks for gender answered right >= 0.95 at an answer rate >= 0.7 on H&M; issue 11 for <= 2 % of captions
contradicting the catalogue. Every wrong gender that is answered is stated, so the "wrong / item" column is what the
gender alone adds to the caption contradiction rate.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from shared.images import load_image
from shared.schemas import Attributes
from shared.settings import UNGATED, get_settings
from training.tower.gates import LeaveProductOut, calibration_rows, product_of
from workers.vision.attributes import decide, in_domain, mix
from workers.vision.embedder import ImageAnalysis
from workers.vision.pipeline import VisionPipeline
from workers.vision.retrieval import Calibrator, Vote

THRESHOLDS = (0.0, 0.8, 0.85, 0.9, 0.95, 0.97, 0.98)
VOTE_PATH_SHUT = 2.0  # no calibrated vote reaches it


@dataclass(frozen=True)
class GenderSignals:
    """What the gender decision of one photo is given (probabilities over `vocabulary`)."""

    vocabulary: tuple[str, ...]
    crops: np.ndarray | None   # the garment crops' probabilities, mixed; None without a garment crop
    whole: np.ndarray
    vote: Vote
    domain_ok: bool

    def top(self, probs: np.ndarray) -> tuple[str, float]:
        return self.vocabulary[int(probs.argmax())], float(probs.max())


Rule = Callable[[GenderSignals, float], str | None]


def crops_rule(signals: GenderSignals, threshold: float) -> str | None:
    """The runtime's own rule (`decide`) through its head path: the crops' mix (else the whole image) sure enough,
    the whole image and the vote naming the same value, the photo in the index's domain. Its other path, a vote
    sure enough on its own, is shut (a threshold above 1) so that the table varies the head's threshold alone."""
    return decide("gender", signals.vocabulary, signals.crops, signals.whole, signals.vote, Calibrator(),
                  threshold, VOTE_PATH_SHUT, signals.domain_ok).value


def whole_rule(signals: GenderSignals, threshold: float) -> str | None:
    """The runtime rule on the whole image's head alone (what its temperature and threshold were fitted on)."""
    return crops_rule(replace(signals, crops=None), threshold)


def whole_head_only(signals: GenderSignals, threshold: float) -> str | None:
    """The whole image's head alone (the heads-level figure of the model card)."""
    value, confidence = signals.top(signals.whole)
    return value if confidence >= threshold else None


RULES: dict[str, Rule] = {"crops, whole and vote agree, in domain (runtime)": crops_rule,
                          "whole image, vote agrees, in domain": whole_rule,
                          "whole image alone": whole_head_only}


def right(answer: str, truth: str) -> bool:
    """An answer against a truth of women/men/kids (H&M) or adult/kids (clothing-photos' flag)."""
    return answer == truth if truth != "adult" else answer != "kids"


def table(signals: Sequence[GenderSignals], truths: Sequence[str], rules: dict[str, Rule],
          thresholds: Sequence[float] = THRESHOLDS) -> list[dict[str, object]]:
    """Per rule and threshold: answer rate, precision (of the answered) and wrong answers per photo."""
    rows: list[dict[str, object]] = []
    for name, rule in rules.items():
        for threshold in thresholds:
            answers = [(rule(s, threshold), t) for s, t in zip(signals, truths, strict=True)]
            answered = [(a, t) for a, t in answers if a is not None]
            wrong = sum(not right(a, t) for a, t in answered)
            rows.append({"rule": name, "threshold": threshold, "n": len(answers),
                         "answer_rate": len(answered) / max(len(answers), 1),
                         "precision": 1 - wrong / len(answered) if answered else float("nan"),
                         "wrong_per_item": wrong / max(len(answers), 1)})
    return rows


class SignalPipeline(VisionPipeline):
    """The pipeline, keeping the gender signals of the last photo it assessed."""

    signals: GenderSignals | None = None

    def _attributes(self, votes: dict[str, Vote], analysis: ImageAnalysis, parts: list[int],
                    part_weights: list[float], whole: int, best_similarity: float) -> Attributes:
        probs = analysis.heads.get("gender")
        self.signals = None if probs is None else GenderSignals(
            vocabulary=tuple(self.embedder.head_vocabularies["gender"]),
            crops=mix([probs[i] for i in parts], part_weights) if parts else None, whole=probs[whole],
            vote=votes["gender"], domain_ok=in_domain(best_similarity, self.index.manifest))
        return super()._attributes(votes, analysis, parts, part_weights, whole, best_similarity)


def collect(rows: list[dict[str, str]], leave_product_out: bool) -> tuple[list[GenderSignals], list[str]]:
    pipeline = SignalPipeline(get_settings().model_copy(update=UNGATED))
    index = LeaveProductOut(pipeline.index)
    pipeline._index = index  # type: ignore[assignment]
    signals, truths = [], []
    for row in rows:
        if row["gender"] not in ("women", "men", "kids", "adult"):
            continue  # no gender truth (H&M Sport)
        index.exclude = product_of(row["id"]) if leave_product_out else None
        pipeline.evidence(load_image(Path(row["image"]), min_side=pipeline.min_side))
        assert pipeline.signals is not None, "the tower has no gender head"
        signals.append(pipeline.signals)
        truths.append(row["gender"])
    return signals, truths


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="the team's data folder (hm-catalog, clothing-photos)")
    parser.add_argument("--limit", type=int, default=1200)
    args = parser.parse_args(argv)
    rows = calibration_rows(args.data / "hm-catalog", args.data / "clothing-photos", args.limit)
    for domain, truth in (("hm", "women / men / kids"), ("clothing", "kids flag")):
        signals, truths = collect(rows[domain], leave_product_out=domain == "hm")
        print(f"\n{domain} calibration photos with a gender truth ({truth}): {len(signals)}")
        print("| rule | threshold | answer rate | precision | wrong / item |\n|---|---:|---:|---:|---:|")
        for row in table(signals, truths, RULES):
            print(f"| {row['rule']} | {row['threshold']:.2f} | {row['answer_rate']:.3f} | {row['precision']:.3f} "
                  f"| {row['wrong_per_item']:.3f} |")


if __name__ == "__main__":
    main()
