"""The open-claims counter on hand-made captions."""

from __future__ import annotations

from pixels2posts.evaluation.open_claims import count_open_claims


def test_given_a_grounded_caption_then_no_open_claims() -> None:
    assert not count_open_claims("A navy wool blazer for men, cut slim with two buttons.")


def test_given_each_kind_of_open_claim_then_each_is_counted() -> None:
    text = ("Waterproof and handmade, made in Italy from organic cotton. Only $49.99, 20% off with free shipping! "
            "Shop now at www.example.com or DM us, link in bio.")
    counts = count_open_claims(text)
    assert counts["performance"] == 1
    assert counts["provenance"] == 2
    assert counts["made_in"] == 1
    assert counts["price"] == 1
    assert counts["discount"] == 2
    assert counts["link"] == 1
    assert counts["call_to_action"] == 3


def test_given_words_that_only_look_like_claims_then_they_are_not_counted() -> None:
    assert not count_open_claims("Made with a wide waistband: a priceless everyday piece in soft jersey.")


def test_given_a_size_no_photo_shows_then_it_is_a_measurement_claim() -> None:
    assert count_open_claims("Black trousers with a slim-fit length of 18 inches, 20 denier.")["measurement"] == 2
    assert not count_open_claims("A 5-pocket pair of jeans for 2 days at the beach.")
