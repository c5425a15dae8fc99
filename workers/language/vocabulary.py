"""The words the grounding check understands: garments, fabrics, genders and colours, with synonyms and inflections.

Every word maps to the closed vocabularies of `shared.vocab` (garments, fabrics, genders) or to colour families.
A word may map to several values ("girl" is women or kids, "jeans" is pants made of denim): a claim is supported
when any of its values is in the evidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from shared.vocab import FABRICS, GARMENT_LABELS, GENDERS

Kind = Literal["colour", "garment", "fabric", "gender"]
Tone = Literal["dark", "light"]


@dataclass(frozen=True)
class Sense:
    """One meaning of a word: its kind, the vocabulary values it may stand for, and (colours only) a tone."""

    kind: Kind
    values: frozenset[str]
    tone: Tone | None = None
    # garments only: the finer types (the type head's, workers/vision/garment_types.py) a word names; None for a
    # word that names the whole class ("trousers"), empty for a finer type no head tells apart ("sneakers")
    types: frozenset[str] | None = None


GARMENT_WORDS: dict[str, tuple[str, ...]] = {
    "sunglass": ("sunglass", "sunglasses", "shades", "sunnies", "eyewear", "glasses"),
    "hat": ("hat", "cap", "beanie", "fedora", "beret", "bucket hat", "headwear"),
    "jacket": ("jacket", "blazer", "coat", "parka", "bomber", "anorak", "overcoat", "trenchcoat", "outerwear"),
    "shirt": (
        "shirt", "tshirt", "tee", "top", "blouse", "sweater", "jumper", "hoodie", "sweatshirt", "polo", "tank",
        "camisole", "tunic", "pullover", "cardigan", "turtleneck",
    ),
    "pants": ("pants", "pant", "trousers", "trouser", "jeans", "jean", "chinos", "leggings", "slacks", "joggers"),
    "shorts": ("shorts",),
    "skirt": ("skirt", "miniskirt", "midiskirt", "maxiskirt"),
    "dress": ("dress", "gown", "sundress", "minidress", "maxidress"),
    "bag": ("bag", "handbag", "purse", "tote", "backpack", "clutch", "satchel"),
    "shoe": (
        "shoe", "sneaker", "trainer", "boot", "heel", "sandal", "loafer", "footwear", "mule", "kicks",
        "stiletto", "espadrille", "flats",
    ),
}

# garment words that name a finer type than their detector class, with the type-head types they may stand for; a
# word not listed names its whole class. Shoe, bag, hat, trouser and skirt subtypes map to nothing: no head tells
# sneakers from boots, so the evidence can never support them (unless the shop said what the product is)
FINER_TYPES: dict[str, frozenset[str]] = {
    **{word: frozenset({"t-shirt"}) for word in ("tshirt", "tee")},
    "blouse": frozenset({"blouse"}), "polo": frozenset({"polo"}), "cardigan": frozenset({"cardigan"}),
    **{word: frozenset({"sweater"}) for word in ("sweater", "jumper", "pullover")},
    **{word: frozenset({"hoodie", "sweater"}) for word in ("hoodie", "sweatshirt")},
    **{word: frozenset({"vest top"}) for word in ("tank", "camisole")},
    "tunic": frozenset({"top", "blouse"}), "turtleneck": frozenset({"sweater", "longsleeve", "top"}),
    "blazer": frozenset({"blazer"}),
    **{word: frozenset({"coat"}) for word in ("coat", "overcoat", "parka", "trenchcoat")},
    **{word: frozenset({"jacket"}) for word in ("bomber", "anorak")},
    # jeans: trousers (the head's "pants") that are denim, the fabric sense checks the rest
    **{word: frozenset({"pants"}) for word in ("jeans", "jean")},
    **dict.fromkeys(("chinos", "leggings", "slacks", "joggers", "sneaker", "trainer", "boot",
                     "heel", "sandal", "loafer", "mule", "kicks", "stiletto", "espadrille", "flats", "cap",
                     "beanie", "fedora", "beret", "bucket hat", "handbag", "purse", "tote", "backpack", "clutch",
                     "satchel", "gown", "sundress", "minidress", "maxidress", "miniskirt", "midiskirt",
                     "maxiskirt"), frozenset[str]()),
}

# words that claim a fabric as well as a garment
IMPLIED_FABRIC: dict[str, str] = {"jeans": "denim", "jean": "denim", "knitwear": "knit", "jumper": "knit"}

FABRIC_WORDS: dict[str, tuple[str, ...]] = {
    "cotton": ("cotton",),
    "jersey": ("jersey",),
    "denim": ("denim", "chambray"),
    "wool": ("wool", "woollen", "woolen", "merino"),
    "linen": ("linen",),
    "silk": ("silk", "silky", "silken"),
    "leather": ("leather", "faux leather"),
    "knit": ("knit", "knitted", "knitwear", "knits"),
    "polyester": ("polyester",),
    "viscose": ("viscose", "rayon"),
    "satin": ("satin", "satiny"),
    "lace": ("lace", "lacy"),
    "chiffon": ("chiffon",),
    "cashmere": ("cashmere",),
    "velvet": ("velvet", "velvety"),
    "suede": ("suede",),
    "fleece": ("fleece",),
    "corduroy": ("corduroy", "cord"),
    "mesh": ("mesh",),
    "nylon": ("nylon",),
    "tulle": ("tulle",),
    "twill": ("twill",),
    "rib": ("rib", "ribbed"),
    "sequin": ("sequin", "sequinned", "sequined", "sparkly"),
}

GENDER_WORDS: dict[str, tuple[str, ...]] = {
    "women": (
        "women", "woman", "womens", "womenswear", "ladies", "lady", "ladieswear", "female", "feminine", "her",
        "she",
    ),
    "men": ("men", "man", "mens", "menswear", "male", "masculine", "gentleman", "gentlemen", "gents", "his", "he"),
    "kids": ("kids", "kid", "children", "child", "childrens", "baby", "babies", "toddler", "boy", "kidswear"),
}
# words that may mean either of two genders
AMBIGUOUS_GENDER_WORDS: dict[str, frozenset[str]] = {
    "girl": frozenset({"women", "kids"}),
    "girls": frozenset({"women", "kids"}),
    "guy": frozenset({"men"}),
    "guys": frozenset({"men"}),
}

_C = frozenset
# colour word -> (families, tone). Families are broad hue groups; the tone separates navy from sky blue.
COLOUR_WORDS: dict[str, tuple[frozenset[str], Tone | None]] = {
    "black": (_C({"black"}), None), "jet": (_C({"black"}), None), "ebony": (_C({"black"}), None),
    "white": (_C({"white"}), None), "ivory": (_C({"white", "beige"}), "light"),
    "cream": (_C({"white", "beige"}), "light"),
    "offwhite": (_C({"white", "beige"}), "light"), "ecru": (_C({"white", "beige"}), "light"),
    "grey": (_C({"grey"}), None), "gray": (_C({"grey"}), None), "charcoal": (_C({"grey", "black"}), "dark"),
    "silver": (_C({"grey", "silver"}), "light"), "ash": (_C({"grey"}), "light"),
    "slate": (_C({"grey", "blue"}), "dark"),
    "red": (_C({"red"}), None), "burgundy": (_C({"red", "purple"}), "dark"), "maroon": (_C({"red", "brown"}), "dark"),
    "wine": (_C({"red", "purple"}), "dark"), "crimson": (_C({"red"}), None), "scarlet": (_C({"red"}), None),
    "cherry": (_C({"red"}), None), "coral": (_C({"red", "orange", "pink"}), None),
    "blue": (_C({"blue"}), None), "navy": (_C({"blue"}), "dark"), "cobalt": (_C({"blue"}), None),
    "indigo": (_C({"blue", "purple"}), "dark"), "turquoise": (_C({"blue", "green"}), None),
    "teal": (_C({"blue", "green"}), "dark"), "aqua": (_C({"blue", "green"}), "light"),
    "cyan": (_C({"blue", "green"}), None), "azure": (_C({"blue"}), "light"),
    "green": (_C({"green"}), None), "olive": (_C({"green", "brown"}), "dark"),
    "khaki": (_C({"green", "beige", "brown"}), None), "mint": (_C({"green"}), "light"),
    "emerald": (_C({"green"}), None), "sage": (_C({"green", "grey"}), "light"), "lime": (_C({"green", "yellow"}), None),
    "yellow": (_C({"yellow"}), None), "mustard": (_C({"yellow", "brown"}), "dark"), "lemon": (_C({"yellow"}), "light"),
    "gold": (_C({"yellow", "gold", "beige"}), None), "golden": (_C({"yellow", "gold", "beige"}), None),
    "orange": (_C({"orange"}), None), "rust": (_C({"orange", "red", "brown"}), "dark"),
    "peach": (_C({"orange", "pink"}), "light"), "apricot": (_C({"orange", "pink"}), "light"),
    "pink": (_C({"pink"}), None), "rose": (_C({"pink", "red"}), None), "blush": (_C({"pink"}), "light"),
    "fuchsia": (_C({"pink", "purple"}), None), "magenta": (_C({"pink", "purple"}), None),
    "salmon": (_C({"pink", "orange"}), "light"),
    "purple": (_C({"purple"}), None), "violet": (_C({"purple"}), None), "lilac": (_C({"purple"}), "light"),
    "lavender": (_C({"purple"}), "light"), "plum": (_C({"purple"}), "dark"), "mauve": (_C({"purple", "pink"}), None),
    "brown": (_C({"brown"}), None), "tan": (_C({"brown", "beige"}), None), "camel": (_C({"brown", "beige"}), None),
    "chocolate": (_C({"brown"}), "dark"), "cognac": (_C({"brown", "orange"}), None),
    "taupe": (_C({"brown", "grey"}), None),
    "mocha": (_C({"brown"}), "dark"), "beige": (_C({"beige"}), None), "nude": (_C({"beige", "pink"}), "light"),
    "sand": (_C({"beige"}), "light"), "stone": (_C({"beige", "grey"}), "light"),
}

TONE_WORDS: dict[str, Tone] = {
    "dark": "dark", "deep": "dark", "light": "light", "pale": "light", "pastel": "light", "soft": "light",
}
# words that only qualify a colour when one follows ("denim blue", "baby pink"): then they are no fabric or gender
COLOUR_QUALIFIERS: dict[str, Tone | None] = {
    "denim": None, "baby": "light", "sky": "light", "powder": "light", "royal": None, "electric": None,
    "hot": None, "rose": None, "midnight": "dark", "forest": "dark", "bottle": "dark", "ice": "light",
}

# words a word-splitter needs beside the attribute words (hashtags are glued words: #navyblazerstyle)
_FILLER_TEXT = (
    "a i of the and or day wear wears look looks new in on my for with to is it its this that what how style "
    "styled love street fashion outfit store shop season collection lover addict addicted gram insta daily perfect "
    "classic casual summer winter spring autumn fall weekend vibe vibes wardrobe essential essentials goal goals "
    "edit wore ootd lookbook trend chic basic basics staple staples inspo inspiration blogger town cape head lip "
    "lips hair up off sleeve sleeves neck collar fit fitted slim oversized relaxed cropped long short mini midi "
    "maxi all over print printed stripe striped check plaid floral pattern solid plain detail details everyday "
    "of day night out go ready time favourite favorite must have haves"
)
FILLER_WORDS: frozenset[str] = frozenset(_FILLER_TEXT.split())

GENDER_TAG_PREFIX: dict[str, str] = {"women": "womens", "men": "mens", "kids": "kids"}
# how the deterministic writer names each detector label
GARMENT_NOUN: dict[str, str] = {
    "sunglass": "sunglasses", "hat": "hat", "jacket": "jacket", "shirt": "shirt", "pants": "trousers",
    "shorts": "shorts", "skirt": "skirt", "dress": "dress", "bag": "bag", "shoe": "shoes",
}
GARMENT_IS_PLURAL: frozenset[str] = frozenset({"sunglass", "pants", "shorts", "shoe"})


def _build_lexicon() -> dict[str, tuple[Sense, ...]]:
    lexicon: dict[str, list[Sense]] = {}

    def add(word: str, sense: Sense) -> None:
        lexicon.setdefault(word.replace(" ", "").replace("-", ""), []).append(sense)

    for label, words in GARMENT_WORDS.items():
        for word in words:
            add(word, Sense("garment", frozenset({label}), types=FINER_TYPES.get(word)))
    for word, fabric in IMPLIED_FABRIC.items():
        add(word, Sense("fabric", frozenset({fabric})))
    for fabric, words in FABRIC_WORDS.items():
        for word in words:
            add(word, Sense("fabric", frozenset({fabric})))
    for gender, words in GENDER_WORDS.items():
        for word in words:
            add(word, Sense("gender", frozenset({gender})))
    for word, genders in AMBIGUOUS_GENDER_WORDS.items():
        add(word, Sense("gender", genders))
    for word, (families, tone) in COLOUR_WORDS.items():
        add(word, Sense("colour", families, tone))
    return {word: tuple(senses) for word, senses in lexicon.items()}


LEXICON: dict[str, tuple[Sense, ...]] = _build_lexicon()
assert set(FINER_TYPES) <= {w for words in GARMENT_WORDS.values() for w in words}, "finer types of unknown words"
assert set(GARMENT_WORDS) == set(GARMENT_LABELS), "every detector label needs words"
assert set(FABRIC_WORDS) == set(FABRICS), "every fabric needs words"
assert set(GENDER_WORDS) == set(GENDERS), "every gender needs words"

_WORD = re.compile(r"[a-z0-9]+")


def words_of(text: str) -> list[str]:
    """Lower-case words; possessives and hyphens joined ("women's" -> "womens", "t-shirt" -> "tshirt")."""
    text = text.lower().replace("’", "'")
    text = re.sub(r"'s\b", "s", text)
    text = re.sub(r"\b(t|off)[\s-](shirts?|tees?|white)\b", r"\1\2", text)
    return _WORD.findall(text)


def lemma(word: str) -> str | None:
    """The lexicon form of a word, undoing plural inflections; None when it is no attribute word."""
    word = word.lower()
    candidates = [word]
    if word.endswith("ies"):
        candidates.append(word[:-3] + "y")
    if word.endswith("es"):
        candidates.append(word[:-2])
    if word.endswith("s"):
        candidates.append(word[:-1])
    for candidate in candidates:
        if candidate in LEXICON:
            return candidate
    return None


def senses(word: str) -> tuple[Sense, ...]:
    found = lemma(word)
    return LEXICON[found] if found is not None else ()


def is_attribute_word(word: str) -> bool:
    return lemma(word) is not None
