"""The gender rule table of training/tower/gender_rules.py on hand-made signals."""

from __future__ import annotations

import numpy as np
import pytest

from training.tower.gender_rules import GenderSignals, crops_rule, right, table, whole_head_only, whole_rule
from workers.vision.retrieval import Vote

VOCABULARY = ("women", "men", "kids")


def signals(whole: list[float], crops: list[float] | None = None, vote: str | None = None,
            domain_ok: bool = True) -> GenderSignals:
    return GenderSignals(VOCABULARY, None if crops is None else np.array(crops), np.array(whole),
                         Vote({vote: 1.0} if vote else {}), domain_ok)


def test_given_crops_the_runtime_rule_reads_their_confidence_and_needs_the_whole_image_to_agree() -> None:
    sure_crops = signals(whole=[0.6, 0.3, 0.1], crops=[0.95, 0.04, 0.01])
    assert crops_rule(sure_crops, 0.9) == "women"
    assert whole_rule(sure_crops, 0.9) is None  # the whole image alone is not that sure
    disagreeing = signals(whole=[0.2, 0.7, 0.1], crops=[0.95, 0.04, 0.01])
    assert crops_rule(disagreeing, 0.9) is None


def test_given_a_vote_or_the_domain_against_it_an_answer_is_withheld_except_by_the_head_alone() -> None:
    outvoted = signals(whole=[0.97, 0.02, 0.01], vote="men")
    foreign = signals(whole=[0.97, 0.02, 0.01], domain_ok=False)
    for case in (outvoted, foreign):
        assert crops_rule(case, 0.9) is None
        assert whole_rule(case, 0.9) is None
        assert whole_head_only(case, 0.9) == "women"


def test_given_the_kids_flag_an_adult_truth_is_contradicted_only_by_kids() -> None:
    assert right("women", "adult") and right("men", "adult")
    assert not right("kids", "adult")
    assert right("kids", "kids") and not right("women", "kids")
    assert right("men", "men") and not right("women", "men")


def test_given_four_photos_when_tabled_then_rates_count_answers_and_wrong_ones_over_all_photos() -> None:
    photos = [signals([0.99, 0.005, 0.005]), signals([0.9, 0.05, 0.05]), signals([0.1, 0.85, 0.05]),
              signals([0.4, 0.3, 0.3])]
    truths = ["women", "men", "men", "women"]
    rows = table(photos, truths, {"head": whole_head_only}, thresholds=(0.0, 0.88, 0.95))
    by_threshold = {row["threshold"]: row for row in rows}
    assert by_threshold[0.0]["answer_rate"] == 1.0
    assert by_threshold[0.0]["precision"] == pytest.approx(0.75)  # photo 2 is answered wrong
    assert by_threshold[0.0]["wrong_per_item"] == pytest.approx(0.25)
    assert by_threshold[0.88]["answer_rate"] == pytest.approx(0.5)  # photos 1 and 2
    assert by_threshold[0.88]["precision"] == pytest.approx(0.5)
    assert by_threshold[0.95]["answer_rate"] == pytest.approx(0.25)
    assert by_threshold[0.95]["precision"] == 1.0
    assert by_threshold[0.95]["wrong_per_item"] == 0.0
