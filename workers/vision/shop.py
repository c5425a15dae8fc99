"""The shop's own words about its product are evidence, with precedence over our models' votes.

Explicit job attributes (`ShopMetadata.attributes`: gender, fabric, colour, category) come first, then the shop's
catalogue row of the job's SKU (when the index is the shop's own, built with `pixels2posts index build`), then what
the title names; each is marked with its source ('shop', 'shop_catalogue', 'shop_title'). A vote from the image that
contradicts them is dropped: the attribute is replaced, a whole-image garment of another class is relabelled (a pack
with no garment gets the shop's), and garment colours of another colour family than the shop's colour are dropped
(the shop's colour, when it is a palette name, becomes the colour of a lone garment: the language stage states
garment colours).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shared.palette import COLOUR_NAMES, FAMILY_OF, PALETTE
from shared.schemas import (
    CATALOGUE_SOURCE,
    SHOP_SOURCE,
    TITLE_SOURCE,
    Attribute,
    Colour,
    EvidencePack,
    Garment,
    ShopMetadata,
)
from shared.settings import Settings
from workers.vision.colour_model import agree, lexicon_families
from workers.vision.garment_types import COARSE, category_of
from workers.vision.labels_text import fabric_from_text, gender_from_title, normalise_gender

_FAMILIES = frozenset(FAMILY_OF.values())


def _colour(value: str | None) -> str | None:
    if not value:
        return None
    key = " ".join(value.lower().split())
    return key if key in COLOUR_NAMES or key in _FAMILIES else key or None


def shop_facts(shop: ShopMetadata | None,
               catalogue: Mapping[str, Any] | None = None) -> dict[str, tuple[str, str]]:
    """attribute -> (normalised value, source) for what the shop says: explicit attributes over its catalogue row
    (`catalogue`: the index item of the job's SKU) over its title."""
    facts: dict[str, tuple[str, str]] = {}
    title = (shop.title if shop is not None else None) or ""
    from_title = {"gender": gender_from_title(title), "fabric": fabric_from_text(title) if title else None,
                  "category": category_of(title)}
    for name, value in from_title.items():
        if value:
            facts[name] = (value, TITLE_SOURCE)
    for name, value in _labels(catalogue or {}).items():
        if value:
            facts[name] = (value, CATALOGUE_SOURCE)
    given = shop.attributes if shop is not None else None
    if given is not None:
        for name, value in _labels(given.model_dump()).items():
            if value:
                facts[name] = (value, SHOP_SOURCE)
    return facts


def _labels(given: Mapping[str, Any]) -> dict[str, str | None]:
    """gender, fabric, colour and category of a shop's record (job attributes or a catalogue row), normalised."""
    fabric, category = given.get("fabric"), given.get("category")
    return {"gender": normalise_gender(given.get("gender")),
            "fabric": fabric_from_text(str(fabric)) if fabric else None,
            "colour": _colour(given.get("colour")),
            "category": category_of(str(category or "")) or str(category or "").strip().lower() or None}


def catalogue_item(index: Any, settings: Settings, sku: str | None,
                   tenant: str | None = None) -> dict[str, Any] | None:
    """The shop's catalogue row for a job's SKU: only from the shop's own index (`P2P_INDEX_DIR`), since the
    bundled index's ids are another catalogue's and a SKU that happened to equal one would borrow its labels; and,
    where the index belongs to one tenant (`P2P_INDEX_TENANT`), only for that tenant's jobs."""
    if not sku or settings.index_dir is None or index is None:
        return None
    if settings.index_tenant is not None and tenant != settings.index_tenant:
        return None
    found: dict[str, Any] | None = index.find(sku)
    return found


def _relabel(garments: list[Garment], category: str, source: str) -> list[Garment]:
    label = COARSE.get(category)
    if label is None:
        return garments
    out = []
    for garment in garments:
        single = len(garments) == 1
        if garment.label != label and (garment.source == "image" or single):
            garment = garment.model_copy(update={"label": label, "category": category, "source": source})
        elif garment.label == label and garment.category != category and single:
            garment = garment.model_copy(update={"category": category, "source": source})
        out.append(garment)
    return out


def _named_garment(pack: EvidencePack, category: str, source: str) -> list[Garment]:
    """The shop's garment when the image stated none (the statement gates may leave a product photo without one)."""
    label = COARSE.get(category)
    if label is None:
        return []
    whole = (0.0, 0.0, float(pack.image.width), float(pack.image.height))
    return [Garment(label=label, score=1.0, box=whole, category=category, source=source, type_confidence=1.0)]


def _recolour(garments: list[Garment], colour: str) -> list[Garment]:
    """Garment colours that contradict the shop's colour are dropped; a lone garment wears the shop's colour."""
    if not lexicon_families(colour):
        return garments  # a colour word the caption lexicon does not know: nothing to compare with
    palette = {c.name: c.rgb for c in PALETTE}
    out = []
    for garment in garments:
        kept = [c for c in garment.colours if agree(c.name, colour)]
        if len(garments) == 1 and colour in palette:
            kept = [Colour(name=colour, rgb=palette[colour], share=max([c.share for c in kept], default=1.0))]
        out.append(garment.model_copy(update={"colours": kept}) if kept != garment.colours else garment)
    return out


def apply_shop(pack: EvidencePack, shop: ShopMetadata | None,
               catalogue: Mapping[str, Any] | None = None) -> EvidencePack:
    """A copy of `pack` in which the shop's facts (its job attributes, `catalogue`: its catalogue row of the job's
    SKU, its title) replace the image votes they contradict."""
    facts = shop_facts(shop, catalogue)
    if not facts:
        return pack
    attributes = pack.attributes.model_copy()
    for name, (value, source) in facts.items():
        setattr(attributes, name, Attribute(value=value, confidence=1.0, source=source))
    garments = pack.garments
    if "category" in facts:
        category, source = facts["category"]
        garments = _relabel(list(garments), category, source) if garments else _named_garment(pack, category, source)
    if "colour" in facts:
        garments = _recolour(list(garments), facts["colour"][0])
    return pack.model_copy(update={"attributes": attributes, "garments": garments,
                                   "schema_version": pack.schema_version})
