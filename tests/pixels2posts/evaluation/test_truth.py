"""Truth recall and contradictions on hand-made captions with known answers."""

from __future__ import annotations

import pytest

from pixels2posts.evaluation.truth import (
    FABRIC_SEPARATOR,
    colour_families,
    hashtag_truth_coverage,
    score_caption,
    truth_of,
)

JACKET = truth_of("Blazer", "Dark Blue", "Menswear", "wool")


def test_given_every_true_attribute_stated_with_synonyms_then_recall_is_one_and_nothing_is_contradicted() -> None:
    score = score_caption("A navy woollen blazer for men.", JACKET)
    assert score.recall == 1.0
    assert not score.any_contradiction
    assert score.correct == {"garment": True, "colour": True, "gender": True, "fabric": True}


def test_given_a_wrong_gender_and_colour_then_both_are_contradicted_and_recall_counts_the_rest() -> None:
    score = score_caption("A red wool jacket for women.", JACKET)
    assert score.contradicted == {"garment": False, "colour": True, "gender": True, "fabric": False}
    assert score.recall == pytest.approx(2 / 4)
    assert score.any_contradiction


def test_given_a_caption_that_states_nothing_then_recall_is_zero_and_nothing_is_contradicted() -> None:
    score = score_caption("A lovely piece for every day.", JACKET)
    assert score.recall == 0.0
    assert score.stated == {"garment": False, "colour": False, "gender": False, "fabric": False}
    assert not score.any_contradiction


def test_given_a_second_colour_beside_the_true_one_then_the_colour_is_correct_not_contradicted() -> None:
    score = score_caption("Dark blue blazer with white stripes.", JACKET)
    assert score.correct["colour"] and not score.contradicted["colour"]


def test_given_a_wrong_garment_type_and_fabric_then_they_are_contradicted() -> None:
    score = score_caption("Cotton trousers.", JACKET)
    assert score.contradicted["garment"] and score.contradicted["fabric"]


def test_given_an_adult_item_then_kids_contradicts_and_women_does_not_and_gender_is_not_recallable() -> None:
    truth = truth_of("T-Shirt", "", "adult", "")
    assert set(truth.values) == {"garment", "gender"} and truth.recallable == frozenset({"garment"})
    assert score_caption("A t-shirt for kids.", truth).contradicted["gender"]
    women = score_caption("A t-shirt for women.", truth)
    assert not women.contradicted["gender"] and women.recall == 1.0


def test_given_catalogue_colour_names_then_they_map_to_families() -> None:
    assert colour_families("Light Beige") == {"beige"}
    assert colour_families("Greenish Khaki") == {"green", "beige", "brown"}
    assert colour_families("Off White") >= {"white"}
    assert colour_families("Transparent") == frozenset()
    assert "colour" not in truth_of("Dress", "Other", "", "").values


def test_given_unknown_categories_then_no_garment_truth() -> None:
    assert "garment" not in truth_of("Socks", "Black", "Ladieswear", "").values
    assert truth_of("Outwear", "", "kids", "").values["garment"] == {"jacket"}


def test_given_hashtags_then_truth_coverage_counts_glued_words() -> None:
    assert hashtag_truth_coverage(["#navyblazer", "#mensfashion"], JACKET) == pytest.approx(3 / 4)
    assert hashtag_truth_coverage(["#ootd"], JACKET) == 0.0


def test_given_a_catalogue_naming_fibre_and_construction_then_either_is_correct_and_another_is_contradicted() -> None:
    from workers.vision.labels_text import fabrics_from_text

    fabrics = fabrics_from_text("T-shirt in soft cotton jersey")
    assert fabrics == ("jersey", "cotton")
    truth = truth_of("T-shirt", None, None, FABRIC_SEPARATOR.join(fabrics))
    assert score_caption("A cotton tee.", truth).correct["fabric"]
    assert score_caption("A jersey tee.", truth).correct["fabric"]
    assert score_caption("A denim tee.", truth).contradicted["fabric"]
