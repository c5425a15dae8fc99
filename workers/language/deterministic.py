"""The fallback writer: a caption composed from the evidence alone, safe by construction.

It names each detected garment once with its dominant colour and puts the outfit together the way a person would
("a navy jacket in cotton over a white shirt with beige trousers, finished with black shoes"), in a headline or a
full sentence in the shop's tone, its verb agreeing with the outfit. Fabric and gender are always stated when known;
a shop's brand leads only when it makes no attribute claim of its own. Choices are picked from the image hash: the
same photo always gets the same caption.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from shared.schemas import ShopMetadata
from workers.language.claims import text_claims
from workers.language.grounding import Evidence, GarmentFacts
from workers.language.quality import polish
from workers.language.shop_style import likeness, product_copy, shop_nouns
from workers.language.vocabulary import GARMENT_IS_PLURAL, GARMENT_NOUN

GENDER_PHRASE: dict[str, str] = {"women": "for women", "men": "for men", "kids": "for kids"}

ROLE: dict[str, str] = {
    "jacket": "outer", "shirt": "top", "dress": "top", "pants": "bottom", "shorts": "bottom", "skirt": "bottom",
    "shoe": "finish", "bag": "finish", "hat": "finish", "sunglass": "finish",
}

# every frame names the outfit and the wearer ({for_whom} is " for women" or ""); tone words pick the set.
# Headlines ("Weekend mode: ...") and full sentences; {make} agrees with the outfit's head ("a jacket ... makes",
# "black shoes make"). Only an outfit that ends its frame gets an aside (", finished with black shoes"); inside a
# sentence the finishing pieces join the "with" list, so any 1-5 garments read as one sentence.
FRAMES: dict[str, tuple[str, ...]] = {
    "default": (
        "Styled today{for_whom}: {outfit}.",
        "{Outfit} {make} an easy choice{for_whom}.",
        "Here is an easy everyday look{for_whom}: {outfit}.",
        "On repeat{for_whom}: {outfit}.",
        "{Outfit}{for_whom}, ready for the weekend.",
    ),
    "casual": (
        "Weekend mode{for_whom}: {outfit}.",
        "{Outfit} {make} easy days even easier{for_whom}.",
        "Grab and go{for_whom}: {outfit}.",
        "Easy days{for_whom}: {outfit}.",
    ),
    "elegant": (
        "Quietly polished{for_whom}: {outfit}.",
        "{Outfit} {make} a refined choice{for_whom}.",
        "An elegant edit{for_whom}: {outfit}.",
        "{Outfit}{for_whom}, styled with quiet polish.",
    ),
    "minimal": (
        "{Outfit}{for_whom}.",
        "The look{for_whom}: {outfit}.",
        "Today{for_whom}: {outfit}.",
    ),
}
# when the evidence states no garment (the statement gates left it out): no garment word, the same tone families
EMPTY_FRAMES: dict[str, tuple[str, ...]] = {
    "default": ("A fresh look{fabric}{for_whom}, ready to wear.", "New in{for_whom}: a fresh favourite{fabric}.",
                "An easy everyday pick{fabric}{for_whom}.", "Made for the week ahead{for_whom}: a new pick{fabric}."),
    "casual": ("Easy days{for_whom}: a new favourite{fabric}.", "Weekend mode{for_whom}: an easy pick{fabric}.",
               "Grab and go{for_whom}: an easy favourite{fabric}."),
    "elegant": ("Quietly polished{for_whom}: a refined pick{fabric}.",
                "An elegant edit{for_whom}: a refined favourite{fabric}.",
                "A refined choice{fabric}{for_whom}, styled with quiet polish."),
    "minimal": ("New in{for_whom}: a simple pick{fabric}.", "The look{for_whom}: clean and simple{fabric}.",
                "Today{for_whom}: an everyday pick{fabric}."),
}
VERBS: dict[str, tuple[str, str]] = {"make": ("makes", "make")}
TONE_KEYWORDS: dict[str, tuple[str, ...]] = {
    "casual": ("casual", "playful", "fun", "friendly", "relaxed", "cheerful", "laid", "youthful", "bold"),
    "elegant": ("elegant", "luxury", "luxurious", "premium", "sophisticated", "refined", "classy", "chic"),
    "minimal": ("minimal", "minimalist", "neutral", "professional", "formal", "plain", "simple", "clean", "factual"),
}
PLURAL: dict[str, str] = {"dress": "dresses"}
FINISHERS = (", finished with ", ", worn with ", " with ")


@dataclass(frozen=True)
class _Item:
    label: str
    phrase: str
    plural: bool


def tone_family(tone: str | None) -> str:
    """The frame set for a shop's free-text tone ("playful", "quiet luxury"); default when none matches."""
    words = set((tone or "").lower().replace("-", " ").split())
    for family, keywords in TONE_KEYWORDS.items():
        if words & set(keywords):
            return family
    return "default"


def write_caption(evidence: Evidence, meta: ShopMetadata | None, image_sha256: str,
                  style_examples: Sequence[str] = ()) -> str:
    """style_examples: the shop's own copy. Its word for a garment ("top" for shirt) names that garment, and when
    the shop set no tone, the frame of any tone whose caption reads most like the copy (shop_style.likeness) is
    taken: the copy sets the register, the evidence every attribute."""
    pick = int(hashlib.sha256(image_sha256.encode()).hexdigest(), 16)
    items = _items(evidence.garments, shop_nouns(style_examples))
    for_whom = f" {GENDER_PHRASE.get(evidence.gender, 'for ' + evidence.gender)}" if evidence.gender else ""
    brand = _safe_brand(meta)
    if not items:
        fabric = f" in {evidence.fabric}" if evidence.fabric else ""
        if brand:
            return polish(f"{brand}: a fresh look{fabric}{for_whom}, ready to wear.")
        empty = EMPTY_FRAMES[tone_family(meta.tone if meta else None)]
        return polish(empty[pick % len(empty)].format(fabric=fabric, for_whom=for_whom))
    if brand:  # a brand leads on its own ("Acme: a navy jacket..."), never before a second prefix
        return polish(f"{brand}: {_outfit(items, evidence.fabric, pick, final=False)[0]}{for_whom}.")
    tone = meta.tone if meta else None
    copy = product_copy(style_examples)
    if copy and not tone:
        every = [frame for family in FRAMES.values() for frame in family]
        ordered = every[pick % len(every):] + every[: pick % len(every)]  # ties go to the photo's own pick
        captions = [_framed(frame, items, evidence.fabric, pick, for_whom) for frame in ordered]
        return max(captions, key=lambda caption: likeness(caption, copy))
    frames = FRAMES[tone_family(tone)]
    return _framed(frames[pick % len(frames)], items, evidence.fabric, pick, for_whom)


def _framed(frame: str, items: list[_Item], fabric: str | None, pick: int, for_whom: str) -> str:
    outfit, plural = _outfit(items, fabric, pick, final=frame.endswith("{outfit}."))
    verbs = {name: forms[1] if plural else forms[0] for name, forms in VERBS.items()}
    caption = frame.format(outfit=outfit, Outfit=outfit[0].upper() + outfit[1:], for_whom=for_whom, **verbs)
    return polish(caption[0].upper() + caption[1:])


def garment_phrases(garments: tuple[GarmentFacts, ...]) -> list[str]:
    return [item.phrase for item in _items(garments)]


def _items(garments: tuple[GarmentFacts, ...], nouns: dict[str, str] | None = None) -> list[_Item]:
    """'a navy jacket', 'black shoes': each label once, with the dominant colour of each of its detections;
    several colours make one plural phrase ('beige, purple and charcoal dresses'), never a repeated noun.
    nouns: the shop's own word for a label ("top" for shirt), from its copy."""
    colours: dict[str, list[str]] = {}
    for garment in garments:
        named = colours.setdefault(garment.label, [])
        colour = garment.colours[0].name if garment.colours else None
        if colour and colour not in named:
            named.append(colour)
    items = []
    for label, named in colours.items():
        noun = (nouns or {}).get(label) or GARMENT_NOUN.get(label, label)
        if len(named) > 1:
            plural = noun if label in GARMENT_IS_PLURAL else PLURAL.get(noun, noun + "s")
            items.append(_Item(label, f"{_join(named)} {plural}", True))
            continue
        article = "" if label in GARMENT_IS_PLURAL else "a "
        items.append(_Item(label, f"{article}{named[0]} {noun}" if named else f"{article}{noun}",
                           label in GARMENT_IS_PLURAL))
    return items


def _outfit(items: list[_Item], fabric: str | None, pick: int, final: bool) -> tuple[str, bool]:
    """Layers the way they are worn: outer over top, with the bottoms, finished with shoes and accessories; and
    whether its head (the subject of a frame's verb) is plural. `final`: nothing follows the phrase in its
    sentence, so the finishing pieces may come as an aside; otherwise they join the "with" list."""
    groups = {role: [item for item in items if ROLE.get(item.label, "finish") == role]
              for role in ("outer", "top", "bottom", "finish")}
    phrases = {role: [item.phrase for item in found] for role, found in groups.items()}
    if fabric:
        first = next(role for role in ("outer", "top", "bottom", "finish") if groups[role])
        phrases[first][0] += f" in {fabric}"
    if groups["outer"] and groups["top"]:
        head = groups["outer"]
        upper = _join(phrases["outer"]) + " over " + _join(phrases["top"])
    else:
        head = groups["outer"] + groups["top"]
        upper = _join(phrases["outer"] + phrases["top"])
    if not upper:  # bottoms lead, else the finishing pieces alone
        lead = "bottom" if groups["bottom"] else "finish"
        head, upper = groups[lead], _join(phrases[lead])
        phrases[lead] = []
    if not final or not phrases["finish"]:
        tail = phrases["bottom"] + phrases["finish"]
        return (f"{upper} with {_join(tail)}" if tail else upper), _plural(head)
    main = f"{upper} with {_join(phrases['bottom'])}" if phrases["bottom"] else upper
    finishers = FINISHERS if not phrases["bottom"] else FINISHERS[:2]
    return main + finishers[pick % len(finishers)] + _join(phrases["finish"]), _plural(head)


def _plural(head: list[_Item]) -> bool:
    return len(head) > 1 or (len(head) == 1 and head[0].plural)


def _join(phrases: list[str]) -> str:
    if len(phrases) <= 1:
        return "".join(phrases)
    return ", ".join(phrases[:-1]) + " and " + phrases[-1]


def _safe_brand(meta: ShopMetadata | None) -> str | None:
    if meta is None or not meta.brand:
        return None
    brand = " ".join(meta.brand.split())[:60]
    banned = [word.lower() for word in meta.banned_words if word.strip()]
    if text_claims(brand) or any(word in brand.lower() for word in banned):
        return None
    return brand
