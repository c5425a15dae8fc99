"""The shop's register from its own copy: the frame for the deterministic writer, masked demonstrations."""

from __future__ import annotations

import pytest

from shared.schemas import ShopMetadata
from shared.settings import Settings
from tests.support.fake_openai import FakeOpenAI, answer
from tests.support.packs import make_pack
from workers.language import open_claims
from workers.language.deterministic import FRAMES, write_caption
from workers.language.grounding import Evidence, check
from workers.language.llm_client import LLMClient
from workers.language.pipeline import CaptionWriter
from workers.language.prompt import build_messages
from workers.language.quality import problems
from workers.language.shop_style import likeness, masked_sentence, shop_nouns

TONE_SAMPLES = ("playful", "elegant", "minimal", "other")
HM_COPY = [
    "Short dress in black chiffon with a V-neck and narrow shoulder straps. Lined.",
    "Long-sleeved top in soft cotton jersey with a round neckline.",
    "Jacket in sweatshirt fabric with a lined drawstring hood and ribbing at the cuffs and hem.",
]


def test_given_the_shops_copy_when_nouns_are_read_then_each_label_gets_the_word_its_copy_opens_with() -> None:
    copy = ["Top in striped cotton jersey.", "Fitted, smocked blouse in woven fabric.", "5-pocket jeans in denim.",
            "Ankle-length joggers in sweatshirt fabric.", "Short dresses in jersey.", "Wide trousers in twill.",
            "Oversized hoodie in sweatshirt fabric."]
    # jeans also claim denim; joggers and hoodies are kinds the vision label cannot tell apart
    assert shop_nouns(copy) == {"shirt": "top", "pants": "trousers", "dress": "dress"}


def test_given_the_shops_nouns_when_the_template_writes_then_it_names_the_garment_their_way_and_stays_grounded(
) -> None:
    copy = ["Vest top in ribbed jersey.", "Ankle-length trousers in twill."]
    pack = make_pack([("shirt", ["white"]), ("pants", ["navy"])], fabric="cotton", gender="women",
                     style_examples=copy)
    evidence = Evidence.of(pack)
    elegant = ShopMetadata(tone="elegant")
    caption = write_caption(evidence, elegant, pack.image.sha256, pack.style_examples)
    assert "white top in cotton" in caption and "navy trousers" in caption, caption
    assert caption == write_caption(evidence, elegant, pack.image.sha256).replace("shirt", "top")
    report = check(evidence, caption, [])
    assert report.unsupported == () and report.attribute_coverage == 1.0, caption
    assert open_claims.find(caption) == [] and problems(caption, None, copy) == [], caption


@pytest.mark.parametrize("garments", [
    [("pants", ["navy"])],
    [("jacket", ["grey"]), ("shirt", ["white"]), ("shoe", ["black"])],
    [("shirt", ["beige", "pink"]), ("bag", ["brown"])],
    [],
])
def test_given_any_outfit_when_written_with_the_shops_copy_then_it_is_complete_grounded_and_fluent(
    garments: list[tuple[str, list[str]]],
) -> None:
    pack = make_pack(garments, fabric="cotton", gender="men", style_examples=HM_COPY)
    evidence = Evidence.of(pack)
    for meta in (None, ShopMetadata(tone="elegant")):
        caption = write_caption(evidence, meta, pack.image.sha256, pack.style_examples)
        report = check(evidence, caption, [])
        assert report.unsupported == () and report.attribute_coverage == 1.0, caption
        assert open_claims.find(caption) == [] and problems(caption, None) == [], caption


def test_given_the_shops_copy_and_no_tone_when_the_template_writes_then_the_frame_most_like_the_copy_wins() -> None:
    """Of every tone's frames, the caption that shares the longest word sequence with the copy: with "with" in
    the copy, "... styled with quiet polish" beats "Styled today: ..."; without copy the photo's pick stays."""
    pack = make_pack([("dress", ["red"])], gender="women", seed="frame")
    evidence = Evidence.of(pack)
    copy = ["Short dress in jersey for women, styled with a belt."]
    caption = write_caption(evidence, None, pack.image.sha256, copy)
    frames = [frame for family in FRAMES.values() for frame in family]
    candidates = {write_caption(evidence, ShopMetadata(tone=tone), pack.image.sha256) for tone in TONE_SAMPLES}
    assert caption == "A red dress for women, styled with quiet polish."
    assert likeness(caption, copy) >= max(likeness(c, copy) for c in candidates)
    assert len(frames) > len(FRAMES["default"])
    assert likeness("Red dress.", []) == 0.0
    assert likeness("short dress in jersey", copy) == pytest.approx(2 * 4 / (4 + 10))


def test_given_another_fabric_and_colour_when_masked_then_they_go_with_their_phrase() -> None:
    evidence = Evidence.of(make_pack([("dress", ["red"])]))
    # only the first detail stays
    assert masked_sentence(HM_COPY[0], evidence) == "Short dress with a V-neck."
    assert masked_sentence("Trousers in twill with a high, elasticated waist and side pockets.", evidence) is None
    trousers = Evidence.of(make_pack([("pants", ["navy"])]))
    assert masked_sentence("Trousers in twill with a high, elasticated waist and side pockets.", trousers) == \
        "Trousers with a high, elasticated waist."
    shirt = Evidence.of(make_pack([("shirt", ["white"])], fabric="cotton"))
    # the material phrase names jersey: it becomes the evidence's fabric
    assert masked_sentence(HM_COPY[1], shirt) == "Long-sleeved top in cotton with a round neckline."
    assert masked_sentence("Striped top in jersey with a round, ribbed neckline.", shirt) == \
        "Striped top in cotton with a round neckline."
    linen = Evidence.of(make_pack([("dress", ["white"])], fabric="linen"))
    assert masked_sentence("Dress in white linen with a belt. Unlined.", linen) == "Dress in white linen with a belt."
    jacket = Evidence.of(make_pack([("jacket", ["grey"])]))
    assert masked_sentence(HM_COPY[2], jacket) == \
        "Jacket with a lined drawstring hood."


def test_given_copy_about_another_garment_when_masked_then_it_is_dropped() -> None:
    assert masked_sentence(HM_COPY[0], Evidence.of(make_pack([("pants", ["navy"])]))) is None


def test_given_masked_mode_when_the_prompt_is_built_then_the_demonstrations_carry_no_foreign_attribute() -> None:
    pack = make_pack([("dress", ["red"])], gender="women", style_examples=HM_COPY)
    evidence = Evidence.of(pack)
    messages = build_messages(pack, evidence, style_mode="masked")
    bare = build_messages(pack.model_copy(update={"style_examples": []}), evidence, style_mode="masked")
    added = messages[len(bare) - 1 : -1]
    assert [m["role"] for m in added] == ["user", "assistant"]
    assert "Short dress with a V-neck." in added[1]["content"]
    assert "chiffon" not in added[0]["content"] + added[1]["content"]
    assert "black" not in added[0]["content"] + added[1]["content"]


def test_given_masked_mode_when_a_draft_copies_six_words_of_a_masked_example_then_it_is_not_published(
    fake_llm: FakeOpenAI, fake_settings: Settings,
) -> None:
    """The masked sentence is another product's copy too: "Red dress with a V-neck" copied with six words in a row
    from "Short dress with a V-neck." (not from the original, which says chiffon) falls back."""
    pack = make_pack([("dress", ["red"])], gender="women", style_examples=HM_COPY)
    fake_llm.default = answer("A short dress with a V-neck in red for women.")
    writer = CaptionWriter(fake_settings, LLMClient(fake_settings, backoff_s=0.01), style_mode="masked")
    result = writer.write(pack)
    assert result.provenance.fallback and result.provenance.fallback_reason == "rejected"
    assert writer.stats.rejected_quality == fake_settings.llm_max_attempts


def test_given_style_attempts_when_drafts_are_rejected_then_the_retries_leave_the_examples_out(
    fake_llm: FakeOpenAI, fake_settings: Settings,
) -> None:
    pack = make_pack([("dress", ["red"])], gender="women", style_examples=HM_COPY)
    fake_llm.queue(answer("A blue dress for men."), answer("A red dress for women, ready for a sunny day."))
    writer = CaptionWriter(fake_settings, LLMClient(fake_settings, backoff_s=0.01), style_mode="masked",
                           style_attempts=1)
    result = writer.write(pack)
    assert not result.provenance.fallback and result.provenance.attempts == 2
    first, second = (request.body["messages"] for request in fake_llm.requests)
    assert any("Short dress with a V-neck." in m["content"] for m in first)
    assert not any("V-neck" in m["content"] for m in second)
    assert len(second) == len(first) - 2  # the one masked demonstration is gone, nothing else


def test_given_the_shops_copy_when_the_writer_falls_back_then_the_template_uses_the_shops_noun(
    fake_settings: Settings,
) -> None:
    pack = make_pack([("shirt", ["white"])], style_examples=["Top in soft cotton jersey with a round neckline."])
    result = CaptionWriter(fake_settings, disabled_reason="no_llm").write(pack)
    assert "white top" in result.caption and result.grounding.unsupported == []


def test_given_the_vision_stages_label_phrases_when_the_template_writes_then_nothing_changes() -> None:
    """Without the shop's copy the packs carry label phrases ("white top"): no shop noun, no frame choice."""
    pack = make_pack([("shirt", ["white"]), ("pants", ["navy"])], gender="women", seed="labels")
    evidence = Evidence.of(pack)
    labels = ["white top", "light blue trousers in cotton", "beige blazer"]
    assert shop_nouns(labels) == {}
    assert write_caption(evidence, None, pack.image.sha256, labels) == write_caption(evidence, None, pack.image.sha256)
    messages = build_messages(pack.model_copy(update={"style_examples": labels}), evidence, style_mode="masked")
    assert messages == build_messages(pack, evidence, style_mode="masked")
