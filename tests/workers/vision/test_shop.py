"""The shop's words as evidence: explicit attributes and title words take precedence and are marked."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from click.testing import CliRunner

from pixels2posts.cli import cli
from shared.schemas import Attribute, Attributes, EvidencePack, Garment, ImageInfo, ShopAttributes, ShopMetadata
from shared.settings import Settings
from workers.vision.index import ProductIndex
from workers.vision.shop import apply_shop, catalogue_item, shop_facts


def _pack(garments: list[Garment], gender: str | None = "women") -> EvidencePack:
    return EvidencePack(image=ImageInfo(sha256="0" * 64, width=100, height=100), garments=garments,
                        attributes=Attributes(gender=Attribute(value=gender, confidence=0.95, source="image"),
                                              fabric=Attribute(value=None, confidence=0.4, source="image")))


def _garment(label: str, source: str = "image") -> Garment:
    return Garment(label=label, score=0.8, box=(0, 0, 100, 100), source=source)


def test_explicit_attributes_beat_the_title_and_the_vote() -> None:
    shop = ShopMetadata(title="Women's linen shirt",
                        attributes=ShopAttributes(gender="Menswear", fabric="100% cotton", colour="Navy"))
    pack = apply_shop(_pack([_garment("shirt")]), shop)
    assert pack.attributes.gender == Attribute(value="men", confidence=1.0, source="shop")
    assert pack.attributes.fabric == Attribute(value="cotton", confidence=1.0, source="shop")
    assert pack.attributes.colour == Attribute(value="navy", confidence=1.0, source="shop")
    assert pack.attributes.category == Attribute(value="shirt", confidence=1.0, source="shop_title")


def test_a_whole_image_garment_that_contradicts_the_shop_category_is_relabelled() -> None:
    pack = apply_shop(_pack([_garment("dress")]), ShopMetadata(attributes=ShopAttributes(category="Hoodie")))
    assert [(g.label, g.category, g.source) for g in pack.garments] == [("shirt", "hoodie", "shop")]


def test_detected_garments_of_a_street_photo_are_kept() -> None:
    garments = [_garment("pants", "detector"), _garment("shoe", "detector")]
    pack = apply_shop(_pack(garments), ShopMetadata(title="Slim jeans"))
    assert [g.label for g in pack.garments] == ["pants", "shoe"]


def test_no_shop_words_leave_the_pack_unchanged() -> None:
    pack = _pack([_garment("shirt")])
    assert apply_shop(pack, None) == pack
    assert apply_shop(pack, ShopMetadata(title="Summer favourite")) == pack
    assert shop_facts(ShopMetadata(title="Unisex cotton tee")) == {"fabric": ("cotton", "shop_title"),
                                                                  "category": ("t-shirt", "shop_title")}


def test_old_packs_still_validate() -> None:
    old = ('{"schema_version": "1.0", "image": {"sha256": "' + "a" * 64 + '", "width": 3, "height": 2},'
           ' "attributes": {"gender": {"value": null, "confidence": 0.2}, "fabric": {"value": "denim",'
           ' "confidence": 0.9}}}')
    pack = EvidencePack.model_validate_json(old)
    assert pack.attributes.fabric.source is None and pack.attributes.category is None


def test_evidence_command_refuses_an_unknown_attribute(tmp_path: object) -> None:
    result = CliRunner().invoke(cli, ["evidence", __file__, "--attribute", "size=XL"])
    assert result.exit_code != 0 and "KEY=VALUE" in result.output


def test_garment_colours_that_contradict_the_shop_colour_are_dropped_and_a_lone_garment_wears_it() -> None:
    from shared.schemas import Colour

    red, navy = Colour(name="red", rgb=(196, 30, 42), share=0.8), Colour(name="navy", rgb=(24, 28, 52), share=0.7)
    lone = apply_shop(_pack([_garment("shirt").model_copy(update={"colours": [red]})]),
                      ShopMetadata(attributes=ShopAttributes(colour="Navy")))
    assert [(c.name, c.rgb) for c in lone.garments[0].colours] == [("navy", (24, 28, 52))]
    street = [_garment("shirt", "detector").model_copy(update={"colours": [red]}),
              _garment("pants", "detector").model_copy(update={"colours": [navy]})]
    pack = apply_shop(_pack(street), ShopMetadata(attributes=ShopAttributes(colour="dark blue")))
    assert [[c.name for c in g.colours] for g in pack.garments] == [[], ["navy"]]
    unknown = apply_shop(_pack(street), ShopMetadata(attributes=ShopAttributes(colour="Dusty Rosewood")))
    assert [[c.name for c in g.colours] for g in unknown.garments] == [["red"], ["navy"]]


def test_a_pack_the_gates_left_without_a_garment_gets_the_shops_garment_in_the_shops_colour() -> None:
    pack = apply_shop(_pack([]), ShopMetadata(title="Wool coat", attributes=ShopAttributes(colour="Navy")))
    assert [(g.label, g.category, g.source, g.box) for g in pack.garments] == [
        ("jacket", "coat", "shop_title", (0.0, 0.0, 100.0, 100.0))]
    assert [c.name for c in pack.garments[0].colours] == ["navy"]
    assert apply_shop(_pack([]), ShopMetadata(title="Gift card")).garments == []  # no garment word: none made up


def test_the_catalogue_row_of_the_sku_beats_the_title_and_explicit_attributes_beat_both() -> None:
    # Given a title saying women's linen, a catalogue row saying men's denim trousers in blue, and an explicit fabric
    shop = ShopMetadata(sku="SKU-1", title="Women's linen shirt", attributes=ShopAttributes(fabric="wool"))
    row = {"id": "SKU-1", "gender": "men", "fabric": "denim", "colour": "Blue", "category": "Trousers"}

    # When the pack is completed with all three
    facts = shop_facts(shop, row)
    pack = apply_shop(_pack([_garment("shirt", source="detector")]), shop, row)

    # Then the catalogue outranks the title, the job's own attributes outrank the catalogue
    assert facts == {"gender": ("men", "shop_catalogue"), "fabric": ("wool", "shop"),
                     "colour": ("blue", "shop_catalogue"), "category": ("pants", "shop_catalogue")}
    assert pack.attributes.gender == Attribute(value="men", confidence=1.0, source="shop_catalogue")
    assert [(g.label, g.source) for g in pack.garments] == [("pants", "shop_catalogue")]  # a lone detection
    assert shop_facts(None, None) == {} and shop_facts(ShopMetadata(sku="SKU-1"), None) == {}


def test_a_sku_is_looked_up_only_in_the_shops_own_index(tmp_path: Path) -> None:
    # Given an index of two products, used as the shop's own index and as if it were the bundled one
    index = _index(tmp_path, ["SKU-1", "SKU-2"])
    own, bundled = Settings(index_dir=tmp_path / "index"), Settings(index_dir=None)

    # Then a SKU finds its row only in the shop's own index, and an unknown SKU finds nothing
    found = catalogue_item(index, own, "SKU-2")
    assert found is not None and (found["id"], found["gender"], found["category"]) == ("SKU-2", "women", "dress")
    assert catalogue_item(index, own, "SKU-9") is None and catalogue_item(index, own, None) is None
    assert catalogue_item(index, bundled, "SKU-2") is None


def test_an_index_bound_to_a_tenant_lends_its_rows_to_that_tenants_jobs_only(tmp_path: Path) -> None:
    # Given shop A's index in a deployment that serves several tenants
    index = _index(tmp_path, ["SKU-1"])
    settings = Settings(index_dir=tmp_path / "index", index_tenant="shop-a")

    # Then shop A's job finds its row; another tenant's job with the same SKU (or one of no known tenant) does not
    assert catalogue_item(index, settings, "SKU-1", tenant="shop-a") is not None
    assert catalogue_item(index, settings, "SKU-1", tenant="shop-b") is None
    assert catalogue_item(index, settings, "SKU-1") is None


def _index(folder: Path, ids: list[str]) -> ProductIndex:
    from pixels2posts.catalog.build import create_index
    from pixels2posts.catalog.reader import CatalogItem

    vectors = np.eye(len(ids), 8, dtype=np.float32)
    items = [CatalogItem(id=i, image="", gender="women", category="dress", group=i) for i in ids]
    create_index(folder / "index", vectors, items, clip_version="test")
    return ProductIndex(folder / "index")
