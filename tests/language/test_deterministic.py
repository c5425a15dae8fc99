"""The deterministic writer: complete and grounded by construction, for any evidence."""

from __future__ import annotations

import random

from shared.palette import COLOUR_NAMES
from shared.schemas import EvidencePack, ShopMetadata
from shared.vocab import FABRICS, GARMENT_LABELS, GENDERS
from workers.language.deterministic import write_caption
from workers.language.grounding import Evidence, check

from .conftest import RGB, make_pack


def test_given_200_random_packs_when_written_then_every_caption_covers_all_and_claims_nothing_else() -> None:
    rng = random.Random(5)
    colours = sorted(set(RGB) | set(COLOUR_NAMES))
    for index in range(200):
        garments = [(rng.choice(GARMENT_LABELS), rng.sample(colours, rng.randint(0, 3)))
                    for _ in range(rng.randint(0, 6))]
        pack = make_pack(garments, fabric=rng.choice([None, *FABRICS]), gender=rng.choice([None, *GENDERS]),
                         seed=str(index))
        evidence = Evidence.of(pack)
        caption = write_caption(evidence, None, pack.image.sha256)
        report = check(evidence, caption, [])
        assert report.unsupported == (), (caption, garments)
        assert report.attribute_coverage == 1.0, (caption, report.missing)


def test_given_the_same_photo_when_written_twice_then_the_caption_is_the_same(office_pack: EvidencePack) -> None:
    evidence = Evidence.of(office_pack)
    assert write_caption(evidence, None, office_pack.image.sha256) == write_caption(
        evidence, None, office_pack.image.sha256)


def test_given_a_brand_when_written_then_it_leads_unless_it_makes_claims_or_is_banned(
    office_pack: EvidencePack,
) -> None:
    evidence = Evidence.of(office_pack)
    sha = office_pack.image.sha256
    branded = write_caption(evidence, ShopMetadata(brand="Northwind"), sha)
    assert branded.startswith("Northwind: A navy jacket") and branded.count(":") == 1
    assert "Red" not in write_caption(evidence, ShopMetadata(brand="Red Silk Co"), sha)
    assert "Northwind" not in write_caption(evidence, ShopMetadata(brand="Northwind", banned_words=["north"]), sha)
