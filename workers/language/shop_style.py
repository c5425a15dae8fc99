"""The shop's register, lifted from its own product copy (the style examples) without its facts.

Two uses, both grounded by construction:
- `shop_nouns(examples)`: the shop's own word for each garment its copy opens with ("Top in cotton jersey ..." ->
  "top" for the vision label shirt): the deterministic writer and the prompt's MUST MENTION name the garment that
  way. The word means the same vocabulary garment, so the grounding check reads it as the evidence's label.
- `likeness(text, examples)`: how much a caption reads like the copy; the deterministic writer takes the frame
  (of all its tone sets, when the shop set no tone) whose caption reads most like it.
- `masked_sentence(example, evidence)`: an example's first sentence with every colour, fabric, gender and garment
  word the evidence does not list dropped (a fabric with its "in soft cotton jersey" phrase), so a demonstration
  built from it teaches the shop's voice without another product's attributes, which the grounding check would
  refuse in a draft that copied them. Only its first detail stays ("Short dress with a V-neck."), and the
  quality check treats the masked sentence as the example it is (six words of it in a row are a copy).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from workers.language.grounding import Evidence
from workers.language.vocabulary import GARMENT_IS_PLURAL, lemma, senses, words_of

MIN_COPY_WORDS = 3
# the garment must open the sentence: at most this many words before it ("Short, A-line coat in ...")
MAX_LEAD_WORDS = 3
_FABRIC_PREPOSITIONS = frozenset({"in", "from", "of", "containing"})
# words that only finish a fabric phrase ("cotton jersey", "viscose weave", "sweatshirt fabric")
_MATERIAL_END = frozenset({"with", ".", ";", "!", "?", "that", "which"})
_DETAIL_END = frozenset({"and", ",", "with", ";", ".", "!", "?", "that", "which"})
_ADJECTIVES = frozenset({"high", "low", "wide", "narrow", "short", "long", "soft", "round", "deep", "small", "large",
                         "slim", "loose", "gentle", "fine", "thin", "thick", "light", "heavy", "straight", "regular"})
_FABRIC_TAIL = frozenset({"fabric", "weave", "blend", "knit", "twill", "mix"})
# the shop's words a garment may be called by: general names of the vision label's class, never a narrower kind
# ("hoodie", "cardigan", "leggings") that the photo's label cannot tell apart
GENERAL_NOUNS = frozenset({"top", "blouse", "shirt", "t-shirt", "tee", "jacket", "coat", "trousers", "pants",
                           "shorts", "skirt", "dress", "bag", "handbag", "shoes", "hat"})
_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9®'’-]*|[^\sA-Za-z0-9]")


def first_sentence(text: str) -> str:
    return re.split(r"(?<=[.!?])\s", " ".join(text.split()), maxsplit=1)[0]


def _kinds(word: str) -> set[str]:
    return {sense.kind for sense in senses(word)}


def product_copy(examples: Sequence[str]) -> list[str]:
    """The examples that are the shop's copy (sentences), not the label phrases the vision stage sends without it
    ("beige blazer", "striped shirt in cotton": no full stop): those change nothing."""
    return [example for example in examples
            if re.search(r"[.!?](?:\s|$)", example) and len(words_of(example)) >= MIN_COPY_WORDS]


def shop_nouns(examples: Sequence[str]) -> dict[str, str]:
    """The shop's own word for each garment label its copy opens with ("top" for shirt), nearest example first.
    Only general names (GENERAL_NOUNS) that mean that garment and nothing else, in the label's number."""
    nouns: dict[str, str] = {}
    for example in product_copy(examples):
        for token in _TOKEN.findall(first_sentence(example))[: MAX_LEAD_WORDS + 1]:
            words = words_of(token)
            found = senses(words[0]) if len(words) == 1 else ()
            if len(found) != 1 or found[0].kind != "garment" or len(found[0].values) != 1:
                continue
            label, word = next(iter(found[0].values)), words[0]
            if label in GARMENT_IS_PLURAL:
                noun = token.lower() if word.endswith("s") else None
            else:
                noun = token.lower() if lemma(word) == word else lemma(word)
            if noun in GENERAL_NOUNS:
                nouns.setdefault(label, noun)
            break
    return nouns


def likeness(text: str, examples: Sequence[str]) -> float:
    """How much `text` reads like the shop's copy: the summed F1 of the longest common word subsequence with each
    example's first sentence (ROUGE-L's measure, on our words)."""
    words = words_of(text)
    total = 0.0
    for example in examples:
        other = words_of(first_sentence(example))
        common = _lcs(words, other)
        total += 2 * common / (len(words) + len(other)) if common else 0.0
    return total


def _lcs(a: list[str], b: list[str]) -> int:
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b):
            current.append(previous[j] + 1 if x == y else max(previous[j + 1], current[j]))
        previous = current
    return previous[-1]


def _supported(word: str, evidence: Evidence) -> bool:
    """The word names nothing the evidence does not list (a word that is no attribute is supported)."""
    colours = {family for garment in evidence.garments for colour in garment.colours for family in colour.families}
    for sense in senses(word):
        values = set(sense.values)
        if sense.kind == "garment" and not values & {garment.label for garment in evidence.garments}:
            return False
        if sense.kind == "colour" and not values & colours:
            return False
        if sense.kind == "fabric" and evidence.fabric not in values:
            return False
        if sense.kind == "gender" and evidence.gender not in values:
            return False
    return True


def masked_sentence(example: str, evidence: Evidence) -> str | None:
    """The example's first sentence without the attributes the evidence lacks; None unless it opens with a garment
    the evidence lists (it would be about another kind of product). Its material ("in soft cotton jersey", "in
    woven fabric", words the vocabulary may not know) becomes the evidence's fabric or goes."""
    tokens = _TOKEN.findall(first_sentence(example))
    head = next((i for i, token in enumerate(tokens[: MAX_LEAD_WORDS + 2]) if _garment(token)), None)
    if head is None or not all(_supported(word, evidence) for word in words_of(tokens[head])):
        return None
    tokens = tokens[: head + 1] + _material(tokens[head + 1 :], evidence)
    drop = [False] * len(tokens)
    for index, token in enumerate(tokens):
        words = words_of(token)
        if not words or all(_supported(word, evidence) for word in words):
            continue
        drop[index] = True
        following = tokens[index + 1].lower() if index + 1 < len(tokens) else ""
        if index > 0 and tokens[index - 1] == "," and following.isalpha():
            drop[index - 1] = True  # "round, ribbed neckline" -> "round neckline"
        if any("fabric" in _kinds(word) for word in words) or following in _FABRIC_TAIL:
            _drop_fabric_phrase(tokens, drop, index)  # "in sweatshirt fabric" too
    kept = _first_detail([token for token, dropped in zip(tokens, drop, strict=True) if not dropped])
    text = " ".join(kept)
    text = re.sub(r"\s+([,.;:!?])", r"\1", text)
    text = re.sub(r"([,;:])(?:\s*[,;:])+", r"\1", text)  # ", ," left by a dropped word
    text = re.sub(r"\b(and|or|with|in|of|from)\s*([,.;:!?]|$)", r"\2", text)  # dangling joiners
    text = re.sub(r"\s*,\s*([.!?])", r"\1", text).strip(" ,")
    return text[0].upper() + text[1:] if text else None


def _first_detail(tokens: list[str]) -> list[str]:
    """Up to the end of the first "with" detail ("Short dress with a V-neck and narrow straps" -> "Short dress
    with a V-neck"): the shorter the other product's details, the less a draft can carry over."""
    lowered = [token.lower() for token in tokens]
    if "with" not in lowered:
        return tokens
    start = lowered.index("with") + 1
    end = next((i for i in range(start + 1, len(tokens)) if lowered[i] in _DETAIL_END
                and not (lowered[i] == "," and _adjective(lowered[i - 1]))), len(tokens))
    return [*tokens[:end], "."]


def _adjective(word: str) -> bool:
    """A comma after it lists adjectives ("a high, elasticated waist"): the detail is not over."""
    return word.endswith(("ed", "ful", "less", "al", "y")) or word in _ADJECTIVES


def _garment(token: str) -> bool:
    return any("garment" in _kinds(word) for word in words_of(token))


def _material(tokens: list[str], evidence: Evidence) -> list[str]:
    """What follows the opening garment, its "in ..." material phrase (up to "with" or punctuation) kept only
    when every fabric word in it is the evidence's fabric, else replaced by that fabric or dropped."""
    if not tokens or tokens[0].lower() != "in":
        return tokens
    end = next((i for i, token in enumerate(tokens) if token.lower() in _MATERIAL_END), len(tokens))
    fabrics = [word for token in tokens[1:end] for word in words_of(token) if "fabric" in _kinds(word)]
    if fabrics and all(_supported(word, evidence) for word in fabrics):
        return tokens
    return (["in", evidence.fabric] if evidence.fabric else []) + tokens[end:]


def _drop_fabric_phrase(tokens: list[str], drop: list[bool], index: int) -> None:
    """"in soft, printed cotton jersey" goes as a whole: back to its preposition (at most 5 tokens, "made from"
    included) and on over the words that only continue a fabric phrase ("jersey", "weave", "and linen")."""
    start = index
    for back in range(index - 1, max(-1, index - 6), -1):
        word = tokens[back].lower()
        if word in _FABRIC_PREPOSITIONS:
            made = word in ("from", "of") and back > 0 and tokens[back - 1].lower() == "made"
            start = back - 1 if made else back
            break
        if word in (".", "!", "?", ";") or "garment" in _kinds(word):
            break
    end = index + 1
    while end < len(tokens) and _continues_fabric(tokens, end):
        end += 1
    for position in range(start, end):
        drop[position] = True


def _continues_fabric(tokens: list[str], index: int) -> bool:
    word = tokens[index].lower()
    if word in _FABRIC_TAIL or "fabric" in _kinds(word):
        return True
    return word == "and" and index + 1 < len(tokens) and "fabric" in _kinds(tokens[index + 1].lower())
