"""BLEU, METEOR, ROUGE and CIDEr-D through the maintained libraries, on hand-made pairs with known answers."""

from __future__ import annotations

import pytest

from pixels2posts.evaluation import lexical

REF = "Fitted jacket in woven fabric with notch lapels and a single button at the front."


def test_given_the_reference_itself_then_every_score_is_perfect() -> None:
    [row] = lexical.per_item([REF], [REF])
    assert row["rouge1"] == pytest.approx(1.0) and row["rougeL"] == pytest.approx(1.0)
    assert row["meteor"] > 0.99
    summary = lexical.summarise([row, row])
    assert summary["bleu4"].value == pytest.approx(100.0)


def test_given_a_hand_counted_pair_then_bleu1_is_the_clipped_unigram_precision() -> None:
    # "the cat sat" vs "the cat ran": 2 of 3 unigrams match, same length so no brevity penalty
    [row] = lexical.per_item(["the cat sat"], ["the cat ran"])
    assert lexical.corpus_bleu(__import__("numpy").array([row["bleu_stats"]["1"]]), 1) == pytest.approx(200 / 3)
    assert row["rouge1"] == pytest.approx(2 / 3)
    assert row["rouge2"] == pytest.approx(1 / 2)


def test_given_disjoint_text_then_overlap_is_zero() -> None:
    [row] = lexical.per_item(["purple elephant dancing"], [REF])
    assert row["rouge1"] == 0.0 and row["meteor"] == 0.0


def test_given_several_items_then_cider_rewards_the_matching_one_most() -> None:
    refs = [REF, "Short dress in cotton jersey with a round neckline.", "Trousers in denim with a high waist."]
    hyps = [REF, "A dress in jersey.", "A hat."]
    scores = lexical.cider(hyps, refs)
    assert scores[0] > scores[1] > scores[2] >= 0.0


def test_given_wordnet_synonyms_then_the_variant_says_so_and_synonyms_match() -> None:
    variant = lexical.meteor_variant()
    assert "METEOR" in variant
    if "WordNet" in variant:  # Debian's wordnet-base or nltk_data present
        assert lexical.meteor("grey trousers", "grey pants") > lexical.meteor("grey bananas", "grey pants")
    else:
        assert "exact + Porter stem only" in variant
