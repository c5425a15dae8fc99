"""The fallback writer: a caption composed from the evidence alone, safe by construction.

It names each detected garment once with its dominant colour, then the fabric and the gender when known; a shop's
brand is added only when it makes no attribute claim of its own. The template is picked from the image hash, so
the same photo always gets the same caption.
"""

from __future__ import annotations

import hashlib

from shared.schemas import ShopMetadata
from workers.language.claims import text_claims
from workers.language.grounding import Evidence, GarmentFacts
from workers.language.vocabulary import GARMENT_IS_PLURAL, GARMENT_NOUN

GENDER_PHRASE: dict[str, str] = {"women": "for women", "men": "for men", "kids": "for kids"}

TEMPLATES: tuple[str, ...] = (
    "{items}{fabric}{gender}.",
    "Styled today: {items}{fabric}{gender}.",
    "The look: {items}{fabric}{gender}.",
)


def write_caption(evidence: Evidence, meta: ShopMetadata | None, image_sha256: str) -> str:
    phrases = garment_phrases(evidence.garments)
    brand = _safe_brand(meta)
    fabric = f", in {evidence.fabric}" if evidence.fabric else ""
    gender = f", {GENDER_PHRASE.get(evidence.gender, evidence.gender)}" if evidence.gender else ""
    if not phrases:
        caption = f"A fresh look{fabric}{gender}, ready to wear."
    else:
        # a brand leads on its own ("Acme: a navy jacket..."), never before a second prefix
        pick = 0 if brand else int(hashlib.sha256(image_sha256.encode()).hexdigest(), 16) % len(TEMPLATES)
        template = TEMPLATES[pick]
        caption = template.format(items=_join(phrases), fabric=fabric, gender=gender)
        caption = caption[0].upper() + caption[1:]
    return f"{brand}: {caption}" if brand else caption


def garment_phrases(garments: tuple[GarmentFacts, ...]) -> list[str]:
    """'a navy jacket', 'black shoes': each label once, with the dominant colour of its best detection; a label
    seen again with another dominant colour is named again with that colour."""
    phrases: list[str] = []
    seen: set[tuple[str, str | None]] = set()
    colours_named: set[str] = set()
    labels_named: set[str] = set()
    for garment in garments:
        colour = garment.colours[0].name if garment.colours else None
        if (garment.label, colour) in seen or (garment.label in labels_named and (colour in colours_named or
                                                                                    colour is None)):
            continue
        seen.add((garment.label, colour))
        labels_named.add(garment.label)
        if colour:
            colours_named.add(colour)
        noun = GARMENT_NOUN.get(garment.label, garment.label)
        article = "" if garment.label in GARMENT_IS_PLURAL else ("an " if (colour or noun)[0] in "aeiou" else "a ")
        phrases.append(f"{article}{colour} {noun}" if colour else f"{article}{noun}")
    return phrases


def _join(phrases: list[str]) -> str:
    if len(phrases) == 1:
        return phrases[0]
    return ", ".join(phrases[:-1]) + " and " + phrases[-1]


def _safe_brand(meta: ShopMetadata | None) -> str | None:
    if meta is None or not meta.brand:
        return None
    brand = " ".join(meta.brand.split())[:60]
    banned = [word.lower() for word in meta.banned_words if word.strip()]
    if text_claims(brand) or any(word in brand.lower() for word in banned):
        return None
    return brand
