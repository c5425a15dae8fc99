"""The shop's own copy as style examples: looked up by the pack's nearest products, never the evaluated item's own."""

from __future__ import annotations

import json
from pathlib import Path

from shared.schemas import EvidencePack, Neighbour
from shared.settings import Settings
from tests.support.fake_openai import FakeOpenAI, answer
from workers.language.llm_client import LLMClient
from workers.language.pipeline import CaptionWriter
from workers.language.shop_copy import ShopCopy

JACKET_COPY = "Relaxed-fit jacket in soft cotton with notch lapels and a chest pocket."
SHIRT_COPY = "Shirt in airy linen with a collar and buttons down the front."


def _with_neighbours(pack: EvidencePack, *ids: str) -> EvidencePack:
    return pack.model_copy(update={"neighbours": [Neighbour(product_id=i, score=0.9 - 0.1 * n)
                                                  for n, i in enumerate(ids)], "style_examples": ["beige blazer"]})


def test_given_a_jsonl_copy_when_a_pack_has_neighbours_then_their_descriptions_come_best_first(
    tmp_path: Path, office_pack: EvidencePack
) -> None:
    path = tmp_path / "copy.jsonl"
    rows = [{"id": "p1", "description": JACKET_COPY}, {"id": "p2", "description": SHIRT_COPY},
            {"id": "p3", "description": " "}, {"id": "p4", "description": JACKET_COPY}]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    copy = ShopCopy.load(path)
    pack = _with_neighbours(office_pack, "p2", "p3", "p4", "p1", "unknown")
    assert copy.examples(pack) == [SHIRT_COPY, JACKET_COPY]  # p3 is empty, p1 repeats p4's text
    assert copy.styled(pack).style_examples == [SHIRT_COPY, JACKET_COPY]
    assert copy.styled(_with_neighbours(office_pack, "unknown")).style_examples == ["beige blazer"]


def test_given_an_hm_articles_csv_when_loaded_then_ids_are_the_ten_digit_article_ids(
    tmp_path: Path, office_pack: EvidencePack
) -> None:
    path = tmp_path / "articles.csv"
    path.write_text(f'article_id,prod_name,detail_desc\n108775015,Strap top,"{SHIRT_COPY}"\n')
    copy = ShopCopy.load(path)
    assert len(copy) == 1 and copy.examples(_with_neighbours(office_pack, "0108775015")) == [SHIRT_COPY]


def test_given_evaluated_items_when_the_copy_is_guarded_then_their_ids_and_their_descriptions_are_left_out(
    office_pack: EvidencePack,
) -> None:
    """A colour variant has another id and the same description: it must not leak the reference either."""
    copy = ShopCopy({"test-item": JACKET_COPY, "its-variant": JACKET_COPY, "other": SHIRT_COPY})
    guarded = copy.without(["test-item"], [JACKET_COPY])
    assert len(guarded) == 1
    assert guarded.examples(_with_neighbours(office_pack, "test-item", "its-variant", "other")) == [SHIRT_COPY]


def test_given_shop_copy_when_the_writer_asks_the_llm_then_a_neighbours_description_is_a_demonstration(
    fake_llm: FakeOpenAI, fake_settings: Settings, office_pack: EvidencePack, tmp_path: Path
) -> None:
    """Given the shop's copy by P2P_STYLE_COPY_PATH and a pack whose nearest product has a description, when
    written, then the prompt shows that description (masked: its first detail, nothing the evidence lacks) as a
    demonstrated answer and the published result records it as its style example."""
    path = tmp_path / "copy.jsonl"
    path.write_text(json.dumps({"id": "p1", "description": JACKET_COPY}) + "\n")
    settings = fake_settings.model_copy(update={"style_copy_path": path})
    fake_llm.default = answer("A navy jacket in cotton over a white shirt with beige trousers and black shoes, "
                              "for women.", ["#navyjacket"])
    result = CaptionWriter(settings, LLMClient(settings, backoff_s=0.01)).write(_with_neighbours(office_pack, "p1"))
    assert not result.provenance.fallback and result.evidence.style_examples == [JACKET_COPY]
    messages = fake_llm.requests[0].body["messages"]
    assert json.loads(messages[-2]["content"]) == {"caption": "Relaxed-fit jacket in soft cotton with notch lapels.",
                                                   "hashtags": ["#jacket", "#cotton"]}
    assert messages[-3]["content"].startswith("EVIDENCE\ngarments: jacket")
