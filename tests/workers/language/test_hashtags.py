"""Hashtag composition: grounded attribute tags, the LLM's tags, popular tags ranked by HARRISON frequencies."""

from __future__ import annotations

import re

from shared.schemas import EvidencePack, ShopMetadata
from shared.settings import Settings
from tests.support.packs import make_pack
from workers.language.grounding import Evidence, check
from workers.language.harrison import load_table, popular_fashion_tags
from workers.language.hashtags import HashtagLimits, compose, normalise

TAG = re.compile(r"^#[A-Za-z0-9]+$")


def _compose(pack: EvidencePack, llm_tags: list[str], meta: ShopMetadata | None = None) -> list[str]:
    limits = HashtagLimits.of(Settings(), meta)
    return compose(Evidence.of(pack), llm_tags, limits, list(meta.banned_words) if meta else [])


def test_given_the_office_look_when_tags_are_composed_then_they_are_5_to_15_grounded_unique_tags(
    office_pack: EvidencePack,
) -> None:
    tags = _compose(office_pack, ["#NavyJacket", "#RedDress", "#ootd", "#navyjacket", "not a tag!!"])
    assert 5 <= len(tags) <= 15
    assert all(TAG.match(tag) for tag in tags)
    assert len({tag.lower() for tag in tags}) == len(tags)
    assert "#RedDress" not in tags  # no red dress in the evidence
    assert {"#navyjacket", "#cotton", "#womensfashion"} <= {tag.lower() for tag in tags}
    report = check(Evidence.of(office_pack), "x", tags)
    assert report.unsupported == () and report.hashtag_coverage >= 0.5


def test_given_a_shop_limit_and_banned_words_when_composed_then_both_are_respected(office_pack: EvidencePack) -> None:
    meta = ShopMetadata(max_hashtags=6, banned_words=["cotton", "OOTD"])
    tags = _compose(office_pack, ["#ootd"], meta)
    assert len(tags) == 6
    assert not any("cotton" in tag.lower() or "ootd" in tag.lower() for tag in tags)


def test_given_a_mens_look_when_composed_then_mens_popular_tags_may_appear_but_never_for_women() -> None:
    mens = _compose(make_pack([("shirt", ["white"])], gender="men"), [])
    womens = _compose(make_pack([("shirt", ["white"])], gender="women"), [])
    assert "#mensfashion" in mens
    assert not any(tag.lstrip("#").startswith("men") for tag in womens)


def test_given_the_harrison_table_when_popular_tags_are_ranked_then_fashion_frequency_orders_them() -> None:
    table = load_table()
    assert len(table) == 997 and table["love"].rank == 0
    ranked = popular_fashion_tags()
    assert ranked[0].tag == "fashion"
    counts = [row.fashion_posts for row in ranked]
    assert counts == sorted(counts, reverse=True)
    pack = make_pack([("bag", ["black"])])
    tags = _compose(pack, [])
    popular = [tag for tag in tags if tag not in ("#blackbag", "#bag")]
    assert popular[:3] == ["#fashion", "#style", "#ootd"]


def test_given_messy_tags_when_normalised_then_only_letters_and_digits_remain() -> None:
    assert normalise("#Navy Blazer!") == "#NavyBlazer"
    assert normalise("###") is None
    assert normalise("#2024") is None
    assert normalise("#" + "a" * 40) is None


def test_given_a_crowded_photo_when_few_tags_are_allowed_then_coverage_tags_come_first() -> None:
    pack = make_pack([("shirt", ["white"]), ("pants", ["navy"]), ("shoe", ["black"]), ("jacket", ["grey"]),
                      ("bag", ["brown"]), ("hat", ["beige"])], fabric="cotton", gender="men")
    tags = _compose(pack, [], ShopMetadata(max_hashtags=8))
    assert tags == ["#whiteshirt", "#navytrousers", "#blackshoes", "#greyjacket", "#brownbag", "#beigehat",
                    "#cotton", "#mensfashion"]
    assert check(Evidence.of(pack), "x", tags).hashtag_coverage == 1.0


def test_given_a_model_tag_gluing_two_garments_then_it_is_dropped_but_one_garment_tags_pass() -> None:
    # Given zidane's evidence (a jacket and a bag) and the tags SmolLM2 proposed for it in the demo
    pack = make_pack([("jacket", []), ("bag", [])])
    # When the tags are composed
    tags = _compose(pack, ["#jacketgobag", "#shirtjeans", "#jacketstyle", "#baggoals"])
    # Then the stitched two-garment tags are gone and the one-garment vocabulary tags stay
    assert "#jacketgobag" not in tags and "#shirtjeans" not in tags
    assert {"#jacketstyle", "#baggoals"} <= set(tags)
