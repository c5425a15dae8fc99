"""The grounding check: claims in captions and hashtags against the evidence, with synonyms and inflections."""

from __future__ import annotations

import pytest

from shared.schemas import Attribute, EvidencePack
from tests.support.packs import make_pack
from workers.language.claims import hashtag_claims, split_hashtag, text_claims
from workers.language.deterministic import write_caption
from workers.language.grounding import Evidence, check, hashtag_is_grounded


@pytest.mark.parametrize(
    ("tag", "words"),
    [
        ("navyblazer", ["navy", "blazer"]),
        ("womensfashion", ["womens", "fashion"]),
        ("mensfashion", ["mens", "fashion"]),
        ("blackandwhite", ["black", "and", "white"]),
        ("sneakerhead", ["sneaker", "head"]),
        ("whatiwore", ["what", "i", "wore"]),
        ("ootd", ["ootd"]),
    ],
)
def test_given_a_glued_hashtag_when_split_then_its_words_come_out(tag: str, words: list[str]) -> None:
    assert split_hashtag(tag) == words


def test_given_synonyms_and_inflections_when_claims_are_found_then_they_map_to_the_vocabulary() -> None:
    claims = {(c.sense.kind, tuple(sorted(c.sense.values))) for c in text_claims(
        "Women's dark-blue jeans, two blazers and white sneakers")}
    assert ("gender", ("women",)) in claims
    assert ("garment", ("pants",)) in claims and ("fabric", ("denim",)) in claims  # jeans: pants made of denim
    assert ("garment", ("jacket",)) in claims  # blazers
    assert ("garment", ("shoe",)) in claims  # sneakers
    assert ("colour", ("blue",)) in claims


def test_given_a_colour_before_a_garment_when_claims_are_found_then_the_colour_is_bound_to_it() -> None:
    [colour, *_] = hashtag_claims("#NavyLinenBlazer")
    assert colour.sense.kind == "colour" and colour.bound_to == frozenset({"jacket"})
    assert colour.tone == "dark"


def test_given_the_office_look_when_a_faithful_caption_is_checked_then_nothing_is_unsupported(
    office_pack: EvidencePack,
) -> None:
    # the type head named the jacket a blazer and the top a T-shirt
    typed = [g.model_copy(update={"category": kind}) for g, kind in
             zip(office_pack.garments, ["blazer", "t-shirt", "pants", "shoe"], strict=True)]
    evidence = Evidence.of(office_pack.model_copy(update={"garments": typed}))
    report = check(evidence, "A navy blazer, crisp white tee and beige trousers with black shoes: cotton, for her.",
                   ["#navyblazer", "#womensfashion", "#ootd"])
    assert report.unsupported == ()
    assert report.attribute_coverage == 1.0


def test_given_garments_known_by_class_only_when_a_finer_type_is_named_then_it_is_unsupported(
    office_pack: EvidencePack,
) -> None:
    # Given the office look with no finer types (a jacket, a top, trousers, shoes)
    evidence = Evidence.of(office_pack)

    # When a caption names finer types than that, Then each such word is unsupported; the class words are not
    report = check(evidence, "A navy blazer, a white hoodie and black sneakers.", ["#sneakers", "#jacket"])
    assert report.unsupported == ("garment:blazer", "garment:hoodie", "garment:sneakers",
                                  "garment:sneakers (hashtag)")
    assert check(evidence, "A navy jacket, a white top, beige trousers and black shoes.", []).unsupported == ()
    assert not hashtag_is_grounded(evidence, "#sneakers") and hashtag_is_grounded(evidence, "#shoes")

    # And a shoe the shop itself named (its title said sneakers) may be called what the shop calls it
    shop_shoe = office_pack.garments[3].model_copy(update={"category": "shoe", "source": "shop_title"})
    from_shop = Evidence.of(office_pack.model_copy(update={"garments": [*office_pack.garments[:3], shop_shoe]}))
    assert hashtag_is_grounded(from_shop, "#sneakers")


@pytest.mark.parametrize(
    ("caption", "claim"),
    [
        ("A red jacket for women.", "colour:red on jacket"),
        ("Red accents everywhere.", "colour:red"),
        ("A navy silk jacket.", "fabric:silk"),
        ("A navy jacket and a skirt.", "garment:skirt"),
        ("Smart navy tailoring for men.", "gender:men"),
        ("White trousers and a navy jacket.", "colour:white on pants"),  # white exists, but not on the trousers
        ("Light-blue jacket.", "colour:blue on jacket"),  # navy is dark: a light blue claim conflicts
    ],
)
def test_given_a_claim_without_evidence_when_checked_then_it_is_reported_unsupported(
    office_pack: EvidencePack, caption: str, claim: str
) -> None:
    report = check(Evidence.of(office_pack), caption, [])
    assert claim in report.unsupported


def test_given_unknown_fabric_and_gender_when_a_caption_names_them_then_both_are_unsupported() -> None:
    pack = make_pack([("dress", ["red"])])
    report = check(Evidence.of(pack), "A red cotton dress for women.", [])
    assert set(report.unsupported) == {"fabric:cotton", "gender:women"}
    assert report.attribute_coverage == 1.0  # garment and colour are all the evidence knows


def test_given_hashtags_when_checked_then_unsupported_tags_and_hashtag_coverage_are_reported(
    office_pack: EvidencePack,
) -> None:
    evidence = Evidence.of(office_pack)
    report = check(evidence, "A navy jacket.", ["#navyjacket", "#cotton", "#mensfashion"])
    assert report.unsupported == ("gender:mens (hashtag)",)
    # evidence attributes: jacket, navy, shirt, white, pants, beige, shoe, black, cotton, women -> 3 of 10 tagged
    assert report.hashtag_coverage == pytest.approx(0.3)
    assert report.attribute_coverage == pytest.approx(0.2)
    assert not hashtag_is_grounded(evidence, "#reddress")
    assert hashtag_is_grounded(evidence, "#BeigeTrousers")


def test_given_a_palette_shade_when_text_names_a_synonym_then_it_counts_as_the_same_colour() -> None:
    pack = make_pack([("jacket", ["dark blue"]), ("pants", ["light blue"])])
    evidence = Evidence.of(pack)
    report = check(evidence, "A navy jacket over sky-light blue jeans.", [])
    # jeans claim denim trousers, finer than the evidence's trousers; the colours match as synonyms
    assert set(report.unsupported) == {"garment:jeans", "fabric:jeans"}
    assert report.attribute_coverage == 1.0
    assert "colour:navy on pants" in check(evidence, "Navy trousers.", []).unsupported
    denim_trousers = pack.model_copy(update={
        "garments": [pack.garments[0], pack.garments[1].model_copy(update={"category": "pants"})],
        "attributes": pack.attributes.model_copy(update={"fabric": Attribute(value="denim", confidence=0.9)})})
    assert check(Evidence.of(denim_trousers), "Light blue jeans.", []).unsupported == ()


def test_given_no_detections_when_checked_then_coverage_is_vacuous_and_any_garment_is_unsupported() -> None:
    pack = make_pack([])
    report = check(Evidence.of(pack), "A fresh look, ready to wear.", [])
    assert report.attribute_coverage == 1.0 and report.unsupported == ()
    assert check(Evidence.of(pack), "A dress.", []).unsupported == ("garment:dress",)


def test_given_garments_the_gates_withheld_when_a_caption_names_them_then_they_are_unsupported_and_never_written(
) -> None:
    # Given a pack that states nothing and withholds a navy jacket the models were unsure of
    unsure = make_pack([("jacket", ["navy"])])
    pack = unsure.model_copy(update={"garments": [], "withheld": unsure.garments})

    # When an LLM names it, and when the deterministic writer writes
    report = check(Evidence.of(pack), "A navy jacket.", [])
    caption = write_caption(Evidence.of(pack), None, pack.image.sha256)

    # Then the jacket is unsupported, and the writer names no garment at all
    assert set(report.unsupported) == {"garment:jacket", "colour:navy on jacket"}
    assert not [claim for claim in text_claims(caption) if claim.sense.kind in ("garment", "colour")], caption


def test_given_palette_names_with_qualifiers_when_written_then_they_are_colours_not_fabric_or_gender() -> None:
    pack = make_pack([("jacket", ["denim blue"]), ("dress", ["light pink"])])
    evidence = Evidence.of(pack)
    report = check(evidence, "A denim blue jacket and a baby pink dress.", ["#denimbluejacket", "#babypinkdress"])
    assert report.unsupported == ()
    assert report.attribute_coverage == 1.0 and report.hashtag_coverage == 1.0
    assert check(evidence, "A denim jacket.", []).unsupported == ("fabric:denim",)
