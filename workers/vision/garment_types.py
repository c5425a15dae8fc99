"""The garment-type vocabulary of the whole-image head (finer than the detector's classes) and words for it.

`COARSE` maps a type onto the detector class a caption may name (shared.vocab.GARMENT_LABELS); None: a product the
detector has no class for (socks, jewellery, ...). `category_of` reads a shop's category or title words.
"""

from __future__ import annotations

import re

GARMENT_TYPES: tuple[str, ...] = (
    "t-shirt", "top", "longsleeve", "vest top", "polo", "shirt", "blouse", "sweater", "cardigan", "hoodie",
    "bodysuit", "jacket", "coat", "blazer", "pants", "shorts", "skirt", "dress", "jumpsuit", "underwear",
    "swimwear", "socks", "shoe", "bag", "hat", "sunglass", "scarf", "jewellery", "accessory",
)

_TOPS = ("t-shirt", "top", "longsleeve", "vest top", "polo", "shirt", "blouse", "sweater", "cardigan", "hoodie",
         "bodysuit")
COARSE: dict[str, str | None] = {
    **{t: "shirt" for t in _TOPS},
    "jacket": "jacket", "coat": "jacket", "blazer": "jacket", "pants": "pants", "shorts": "shorts",
    "skirt": "skirt", "dress": "dress", "jumpsuit": "dress", "shoe": "shoe", "bag": "bag", "hat": "hat",
    "sunglass": "sunglass", "underwear": None, "swimwear": None, "socks": None, "scarf": None, "jewellery": None,
    "accessory": None,
}
assert set(COARSE) == set(GARMENT_TYPES)

_SYNONYMS: dict[str, str] = {
    "tshirt": "t-shirt", "tee": "t-shirt", "t": "t-shirt", "tank": "vest top", "camisole": "vest top",
    "undershirt": "vest top", "longsleeve": "longsleeve", "jumper": "sweater", "pullover": "sweater",
    "sweatshirt": "hoodie", "hoody": "hoodie", "trousers": "pants", "trouser": "pants", "jeans": "pants",
    "leggings": "pants", "chinos": "pants", "joggers": "pants", "parka": "coat", "overcoat": "coat",
    "outerwear": "jacket", "outwear": "jacket", "anorak": "jacket", "gilet": "jacket", "playsuit": "jumpsuit",
    "dungarees": "jumpsuit", "body": "bodysuit", "bra": "underwear", "briefs": "underwear", "boxers": "underwear",
    "bikini": "swimwear", "swimsuit": "swimwear", "tights": "socks", "sneakers": "shoe", "sneaker": "shoe",
    "shoes": "shoe", "boots": "shoe", "boot": "shoe", "sandals": "shoe", "sandal": "shoe", "trainers": "shoe",
    "handbag": "bag", "backpack": "bag", "tote": "bag", "cap": "hat", "beanie": "hat", "sunglasses": "sunglass",
    "earrings": "jewellery", "necklace": "jewellery", "ring": "jewellery", "bracelet": "jewellery",
    "belt": "accessory", "gloves": "accessory", "tie": "accessory", "skirts": "skirt", "dresses": "dress",
    "shirts": "shirt", "blouses": "blouse", "jackets": "jacket", "coats": "coat", "hoodies": "hoodie",
    "sweaters": "sweater", "cardigans": "cardigan", "blazers": "blazer", "tops": "top", "polos": "polo",
    "hats": "hat", "bags": "bag", "scarves": "scarf",
}
_WORD = re.compile(r"[a-z]+(?:-[a-z]+)?")


def category_of(text: str | None) -> str | None:
    """The garment type a shop's category or title names (the last garment word wins: 'shirt dress' -> dress)."""
    if not text:
        return None
    found = None
    for word in _WORD.findall(text.lower().replace("t-shirt", "tshirt").replace("vest top", "tank")):
        kind = word if word in COARSE else _SYNONYMS.get(word) or _SYNONYMS.get(word.replace("-", ""))
        if kind is not None:
            found = kind
    return found
