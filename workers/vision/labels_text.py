"""Attribute words in free text (catalogue descriptions, shop titles) normalised to our vocabularies.

Used offline by catalogue reading (pixels2posts/catalog) and at run time for the shop's own words on a job.
"""

from __future__ import annotations

import re

from shared.vocab import FABRICS, GENDERS, HM_INDEX_GROUP_TO_GENDER

# when a text names several fabrics, the more specific construction wins over the fibre ("cotton denim" -> denim)
FABRIC_PRIORITY: tuple[str, ...] = (
    "denim", "lace", "leather", "suede", "sequin", "satin", "chiffon", "velvet", "corduroy", "tulle", "mesh",
    "fleece", "cashmere", "wool", "linen", "silk", "jersey", "knit", "rib", "twill", "cotton", "viscose",
    "polyester", "nylon",
)
assert set(FABRIC_PRIORITY) == set(FABRICS), "FABRIC_PRIORITY must order exactly shared.vocab.FABRICS"

_FABRIC_FORMS: dict[str, str] = {"knitted": "knit", "ribbed": "rib", "sequins": "sequin", "sequinned": "sequin",
                                 "woollen": "wool", "laces": "lace", "meshes": "mesh"}
_WORD = re.compile(r"[a-z]+")

GENDER_ALIASES: dict[str, str] = {
    "women": "women", "woman": "women", "female": "women", "ladies": "women", "ladieswear": "women",
    "womenswear": "women", "divided": "women", "men": "men", "man": "men", "male": "men", "menswear": "men",
    "kids": "kids", "kid": "kids", "children": "kids", "child": "kids", "baby": "kids", "baby/children": "kids",
    "girls": "kids", "boys": "kids",
}
# words that name a gender inside a title ("Men's slim jeans"); "womens" before "mens" is handled by whole words
_TITLE_GENDER: dict[str, str] = {**GENDER_ALIASES, "womens": "women", "mens": "men", "unisex": "",
                                 "girl": "kids", "boy": "kids", "toddler": "kids", "infant": "kids"}
_TITLE_GENDER.pop("divided")


def fabrics_from_text(text: str) -> tuple[str, ...]:
    """Every fabric word in `text`, the most specific first ("cotton jersey" -> jersey, cotton)."""
    found = {_FABRIC_FORMS.get(word, word) for word in _WORD.findall(text.lower())}
    return tuple(fabric for fabric in FABRIC_PRIORITY if fabric in found)


def fabric_from_text(text: str) -> str | None:
    """The most specific fabric word in `text`, or None."""
    found = fabrics_from_text(text)
    return found[0] if found else None


def normalise_gender(value: str | None) -> str | None:
    if not value:
        return None
    key = value.strip().lower()
    if key in GENDERS:
        return key
    if value.strip() in HM_INDEX_GROUP_TO_GENDER:
        return HM_INDEX_GROUP_TO_GENDER[value.strip()]
    return GENDER_ALIASES.get(key)


def gender_from_title(title: str | None) -> str | None:
    """The one gender a title names ('Men's oxford shirt' -> men); None when it names none, several, or unisex."""
    if not title:
        return None
    found = {_TITLE_GENDER[w] for w in _WORD.findall(title.lower().replace("'", "")) if w in _TITLE_GENDER}
    return found.pop() if len(found) == 1 and "" not in found else None
