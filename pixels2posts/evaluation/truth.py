"""Caption claims scored against catalogue truth: truth recall and contradictions, per attribute.

The truth is what the catalogue row says (garment type from its category, colour family from its colour name,
gender, fabric), never what our vision stage said. Claims are read from the caption with the language stage's
lexicon (`workers.language.claims`): word -> attribute values, with synonyms ("trousers" = pants, "navy" = blue).

Per attribute a (those the catalogue knows for the item):
    stated(a)       = the caption makes at least one claim of kind a
    correct(a)      = some claim of kind a is compatible with the truth (its values meet the true values)
    contradicted(a) = stated(a) and not correct(a)
A caption may name a second colour (a print, a stripe) or a second garment (a worn photo): one compatible claim is
enough to count as correct, which keeps the contradiction rate a floor, not an inflated number.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from workers.language.claims import Claim, hashtag_claims, text_claims
from workers.language.vocabulary import COLOUR_WORDS, words_of

ATTRIBUTES: tuple[str, ...] = ("garment", "colour", "gender", "fabric")

# catalogue categories (H&M product types, clothing-photos labels) -> our garment labels; absent: not a garment we
# can score (underwear, socks, "Not sure", ...)
CATEGORY_TO_GARMENT: dict[str, str] = {
    # H&M product_type_name
    "trousers": "pants", "leggings/tights": "pants", "dress": "dress", "sweater": "shirt", "t-shirt": "shirt",
    "top": "shirt", "blouse": "shirt", "shirt": "shirt", "vest top": "shirt", "hoodie": "shirt",
    "polo shirt": "shirt", "cardigan": "shirt", "jacket": "jacket", "blazer": "jacket", "coat": "jacket",
    "skirt": "skirt", "shorts": "shorts", "bag": "bag", "boots": "shoe", "sneakers": "shoe", "sandals": "shoe",
    "heeled sandals": "shoe", "ballerinas": "shoe", "flat shoe": "shoe", "pumps": "shoe", "wedge": "shoe",
    "other shoe": "shoe", "hat/beanie": "hat", "cap/peaked": "hat", "hat/brim": "hat", "beanie": "hat",
    "sunglasses": "sunglass",
    # clothing-photos labels
    "pants": "pants", "longsleeve": "shirt", "shoes": "shoe", "outwear": "jacket", "polo": "shirt",
    "undershirt": "shirt", "hat": "hat",
    # our own labels pass through
    "sunglass": "sunglass", "shoe": "shoe",
}
# a catalogue row may name several fabrics, all true at once ("cotton|jersey" for a T-shirt in cotton jersey: fibre and
# construction): a fabric claim is correct when it is one of them
FABRIC_SEPARATOR = "|"
# gender column values that only say "not kids"
ADULT: frozenset[str] = frozenset({"adult", "adults", "not kids"})
_GENDERS = {"women": "women", "woman": "women", "ladieswear": "women", "divided": "women", "men": "men",
            "man": "men", "menswear": "men", "kids": "kids", "kid": "kids", "baby/children": "kids",
            "children": "kids"}


@dataclass(frozen=True)
class Truth:
    """What the catalogue knows about one item. Each attribute is a set of acceptable values (empty: unknown);
    `recallable` names the attributes a caption can state (an "adult" gender can be contradicted, not stated)."""

    values: dict[str, frozenset[str]]
    recallable: frozenset[str]

    def known(self) -> list[str]:
        return [a for a in ATTRIBUTES if self.values.get(a)]


def colour_families(name: str | None) -> frozenset[str]:
    """Colour families of a catalogue colour name ("Light Beige" -> beige, "Greenish Khaki" -> green/beige/brown)."""
    families: set[str] = set()
    for word in words_of(name or ""):
        if word in COLOUR_WORDS:
            families |= COLOUR_WORDS[word][0]
    return frozenset(families)


def truth_of(category: str | None, colour: str | None, gender: str | None, fabric: str | None) -> Truth:
    values: dict[str, frozenset[str]] = {}
    garment = CATEGORY_TO_GARMENT.get(" ".join((category or "").lower().split()))
    if garment:
        values["garment"] = frozenset({garment})
    if colour_families(colour):
        values["colour"] = colour_families(colour)
    gender_key = " ".join((gender or "").lower().split())
    if gender_key in _GENDERS:
        values["gender"] = frozenset({_GENDERS[gender_key]})
    fabrics = frozenset(word.strip() for word in (fabric or "").lower().split(FABRIC_SEPARATOR) if word.strip())
    if fabrics:
        values["fabric"] = fabrics
    recallable = frozenset(values)
    if gender_key in ADULT:  # "not kids": a caption can contradict it ("for kids") but not state it
        values["gender"] = frozenset({"women", "men"})
    return Truth(values, recallable)


@dataclass
class TruthScore:
    """One caption against its truth."""

    stated: dict[str, bool] = field(default_factory=dict)
    correct: dict[str, bool] = field(default_factory=dict)
    contradicted: dict[str, bool] = field(default_factory=dict)
    recall: float | None = None  # None: the catalogue knows nothing recallable about this item

    @property
    def any_contradiction(self) -> bool:
        return any(self.contradicted.values())


def _claims_by_kind(claims: Iterable[Claim]) -> dict[str, list[frozenset[str]]]:
    found: dict[str, list[frozenset[str]]] = {}
    for claim in claims:
        found.setdefault(claim.sense.kind, []).append(claim.sense.values)
    return found


def score_claims(claims: Iterable[Claim], truth: Truth) -> TruthScore:
    by_kind = _claims_by_kind(claims)
    score = TruthScore()
    for attribute in truth.known():
        true_values = truth.values[attribute]
        stated = by_kind.get(attribute, [])
        score.stated[attribute] = bool(stated)
        score.correct[attribute] = any(values & true_values for values in stated)
        score.contradicted[attribute] = bool(stated) and not score.correct[attribute]
    recallable = [a for a in truth.known() if a in truth.recallable]
    if recallable:
        score.recall = sum(score.correct[a] for a in recallable) / len(recallable)
    return score


def score_caption(caption: str, truth: Truth) -> TruthScore:
    return score_claims(text_claims(caption), truth)


def hashtag_truth_coverage(hashtags: Iterable[str], truth: Truth) -> float | None:
    """Share of the item's recallable true attributes that some hashtag states correctly."""
    claims = [claim for tag in hashtags for claim in hashtag_claims(tag)]
    return score_claims(claims, truth).recall
