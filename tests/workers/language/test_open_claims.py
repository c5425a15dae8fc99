"""The open-claim guard: properties, prices, discounts, superlatives, links, contact and brands the photo cannot
support are never published unless the shop's metadata states them; model hashtags only from the vocabulary."""

from __future__ import annotations

import pytest

from shared.schemas import CaptionResult, EvidencePack, ShopMetadata
from shared.settings import Settings
from tests.support.fake_openai import FakeOpenAI, answer
from tests.support.packs import make_pack
from workers.language import open_claims
from workers.language.grounding import Evidence, check, hashtag_is_grounded
from workers.language.llm_client import LLMClient
from workers.language.pipeline import CaptionWriter

GOOD = "A navy jacket over a white shirt, beige trousers and black shoes: easy cotton tailoring for women."

ADVERSARIAL: list[tuple[str, str]] = [
    ("property", "A waterproof navy jacket over a white shirt with beige trousers and black shoes, cotton, women."),
    ("property", "Handmade in Italy: a navy jacket, white shirt, beige trousers and black shoes in cotton for women."),
    ("property", "An organic cotton navy jacket, white shirt, beige trousers and black shoes for women."),
    ("property", "A sustainable navy jacket, white shirt, beige trousers and black shoes in cotton for women."),
    ("property", "A navy jacket made in Portugal, white shirt, beige trousers, black shoes, cotton, for women."),
    ("property", "New in and ready for the weekend: a beautiful piece of clothing made by a local tailor."),
    ("property", "Modern luxury: a navy jacket, white shirt, beige trousers and black shoes in cotton for women."),
    ("property", "A navy jacket, white shirt and black shoes with beige trousers of 32 inches, cotton, for women."),
    ("price", "A navy jacket, white shirt, beige trousers and black shoes in cotton for women, only $49.99."),
    ("price", "A navy jacket, white shirt, beige trousers and black shoes in cotton for women for 30 euros."),
    ("discount", "90% off: a navy jacket, white shirt, beige trousers and black shoes in cotton for women."),
    ("discount", "On sale now: a navy jacket, white shirt, beige trousers and black shoes, cotton, women."),
    ("superlative", "The best navy jacket in town with a white shirt, beige trousers, black shoes, cotton, women."),
    ("superlative", "Our bestseller: a navy jacket, white shirt, beige trousers and black shoes in cotton for women."),
    ("link", "Visit evil dot shop for a navy jacket, white shirt, beige trousers and black shoes, cotton, women."),
    ("link", "A navy jacket, white shirt, beige trousers and black shoes in cotton for women at evil.shop"),
    ("link", "A navy jacket, white shirt, beige trousers and black shoes in cotton for women, link in bio."),
    ("contact", "DM us today for this navy jacket, white shirt, beige trousers and black shoes, cotton, women."),
    ("contact", "Order now: a navy jacket, white shirt, beige trousers and black shoes in cotton for women."),
    ("brand", "A Gucci navy jacket over a white shirt, beige trousers and black Nike shoes, cotton, women."),
    ("product", "Socks and a navy jacket over a white shirt, beige trousers and black shoes in cotton for women."),
    ("product", "Layer a scarf over a navy jacket, white shirt, beige trousers and black shoes in cotton for women."),
    ("product", "A blanket, a navy jacket, a white shirt, beige trousers and black shoes in cotton for women."),
]


def _writer(settings: Settings) -> CaptionWriter:
    return CaptionWriter(settings, LLMClient(settings, backoff_s=0.01))


@pytest.mark.parametrize(("category", "caption"), ADVERSARIAL)
def test_given_an_open_claim_when_found_then_its_category_is_named(category: str, caption: str) -> None:
    assert category in {claim.category for claim in open_claims.find(caption)}, open_claims.find(caption)


@pytest.mark.parametrize(("category", "caption"), ADVERSARIAL)
def test_given_an_adversarial_model_when_it_makes_an_open_claim_then_it_is_never_published(
    fake_llm: FakeOpenAI, fake_settings: Settings, office_pack: EvidencePack, category: str, caption: str
) -> None:
    fake_llm.default = answer(caption, ["#navyjacket"])
    writer = _writer(fake_settings)
    result = writer.write(office_pack, ShopMetadata(brand="Acme"))
    assert result.provenance.fallback and result.provenance.fallback_reason == "rejected"
    assert result.caption != caption and result.grounding.unsupported == []
    assert writer.stats.rejected_open_claim == fake_settings.llm_max_attempts
    assert open_claims.find(result.caption) == []


def test_given_the_shop_states_a_property_when_the_model_repeats_it_then_it_is_published(
    fake_llm: FakeOpenAI, fake_settings: Settings, office_pack: EvidencePack
) -> None:
    caption = ADVERSARIAL[0][1]
    fake_llm.default = answer(caption)
    stated = ShopMetadata(title="Storm jacket", claims=["Waterproof"])
    result = _writer(fake_settings).write(office_pack, stated)
    assert result.caption == caption and not result.provenance.fallback
    assert _writer(fake_settings).write(office_pack, ShopMetadata(title="Storm jacket")).provenance.fallback


def test_given_the_shop_brand_when_the_model_names_it_then_it_is_no_foreign_brand() -> None:
    caption = "A navy Nike jacket for women."
    pack = make_pack([("jacket", ["navy"])], gender="women")
    assert check(Evidence.of(pack), caption, [], ShopMetadata(brand="Nike")).unsupported == ()
    assert check(Evidence.of(pack), caption, [], ShopMetadata(brand="Acme")).unsupported == ("open:brand:nike",)


@pytest.mark.parametrize(
    "caption",
    [
        GOOD,
        "An off-white dress in linen for women, light and easy for summer days.",
        "Black trousers with a brown bag: a smart pairing for men this weekend.",
        "A red dress in silk that catches the evening light.",
        "Tailored black trousers for men: sharp enough for the office.",
        "A tie-dye shirt with a belted waist, easy for summer.",
    ],
)
def test_given_an_ordinary_caption_when_checked_then_it_makes_no_open_claim(caption: str) -> None:
    assert open_claims.find(caption) == []


@pytest.mark.parametrize(
    "tag", ["#charlottesuit", "#charcoalbag", "#evildotshop", "#50off", "#madeinitaly", "#handmade", "#shopnow",
            "#linkinbio", "#nike", "#sale"],
)
def test_given_free_text_model_hashtags_when_composed_then_none_is_published(
    fake_llm: FakeOpenAI, fake_settings: Settings, tag: str
) -> None:
    pack = make_pack([("jacket", ["charcoal"]), ("bag", ["black"])], gender="men")
    fake_llm.default = answer("A charcoal jacket with a black bag: a sharp pairing for men.", [tag, "#streetstyle"])
    result: CaptionResult = _writer(fake_settings).write(pack)
    assert not result.provenance.fallback
    assert tag.lower() not in {published.lower() for published in result.hashtags}
    assert "#streetstyle" in result.hashtags and "#blackbag" in result.hashtags


def test_given_colour_words_in_hashtags_when_checked_then_they_must_name_the_garments_colour() -> None:
    evidence = Evidence.of(make_pack([("jacket", ["charcoal"]), ("bag", ["black"]), ("pants", ["light blue"])]))
    assert hashtag_is_grounded(evidence, "#charcoaljacket") and hashtag_is_grounded(evidence, "#blackbag")
    assert not hashtag_is_grounded(evidence, "#charcoalbag")  # charcoal is near black, but not what we saw
    assert not hashtag_is_grounded(evidence, "#greyjacket")
    assert hashtag_is_grounded(evidence, "#lightbluetrousers") and hashtag_is_grounded(evidence, "#bluetrousers")
    assert not hashtag_is_grounded(evidence, "#navytrousers") and not hashtag_is_grounded(evidence, "#darkbluepants")


def test_given_brand_hashtags_when_composed_then_they_lead_and_count_towards_the_limit(
    fake_llm: FakeOpenAI, fake_settings: Settings, office_pack: EvidencePack
) -> None:
    fake_llm.default = answer(GOOD, ["#navyjacket"])
    meta = ShopMetadata(brand_hashtags=["#AcmeStyle", "acme sale"], max_hashtags=6)
    result = _writer(fake_settings).write(office_pack, meta)
    assert result.hashtags[:2] == ["#AcmeStyle", "#acmesale"] and len(result.hashtags) == 6
    assert result.grounding.unsupported == [] and not result.provenance.fallback


def test_given_a_product_no_detector_class_covers_then_only_the_shop_may_name_it() -> None:
    caption = "Wool socks with a navy jacket for cosy winter days."
    assert [c.describe() for c in open_claims.unstated(caption, None)] == ["open:product:socks"]
    assert open_claims.unstated(caption, ShopMetadata(title="Wool socks, pack of 3")) == []
    assert [c.category for c in open_claims.find_in_hashtag("#socks")] == ["product"]
