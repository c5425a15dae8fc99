"""Find the attribute claims a caption or hashtag makes: colours, garments, fabrics, genders.

Caption text is split into words; a hashtag is split into the words it glues together (#navyblazerstyle ->
navy blazer style) by a dynamic programme over the lexicon, the HARRISON tag words and some filler words.
A colour directly before a garment ("navy linen blazer", #blackdress) is bound to it: that garment must have the colour.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from itertools import pairwise

from workers.language.harrison import known_tag_words
from workers.language.vocabulary import (
    COLOUR_QUALIFIERS,
    FILLER_WORDS,
    LEXICON,
    TONE_WORDS,
    Sense,
    Tone,
    lemma,
    senses,
    words_of,
)

# words allowed between a colour and the garment it describes: "black and white dress", "navy linen blazer"
_BINDING_GLUE = frozenset({"and", "with", "slim", "fit", "oversized", "relaxed", "cropped", "long", "short", "mini",
                           "midi", "maxi", "classic", "little", "striped", "printed", "plain"})
_MAX_WORD = 24


@dataclass(frozen=True)
class Claim:
    """One attribute word found in text: what it says, the word as written, and the garment it is bound to."""

    sense: Sense
    surface: str
    tone: Tone | None = None
    bound_to: frozenset[str] | None = None

    def describe(self) -> str:
        if self.bound_to is not None:
            garments = "/".join(sorted(self.bound_to))
            return f"{self.sense.kind}:{self.surface} on {garments}"
        return f"{self.sense.kind}:{self.surface}"


@dataclass
class _Word:
    text: str
    senses: tuple[Sense, ...] = field(default_factory=tuple)


def text_claims(text: str) -> list[Claim]:
    return _claims_from_words(words_of(text))


def hashtag_claims(tag: str) -> list[Claim]:
    return _claims_from_words(split_hashtag(tag.lstrip("#").lower()))


def _claims_from_words(words: list[str]) -> list[Claim]:
    tokens = [_Word(word, senses(word)) for word in words]
    for token, following in pairwise(tokens):
        if token.text in COLOUR_QUALIFIERS and any(sense.kind == "colour" for sense in following.senses):
            token.senses = ()
    claims: list[Claim] = []
    for index, token in enumerate(tokens):
        for sense in token.senses:
            if sense.kind == "colour":
                tone = _tone_before(tokens, index) or sense.tone
                claims.append(Claim(sense, token.text, tone, _garment_after(tokens, index)))
            else:
                claims.append(Claim(sense, token.text))
    return claims


def _tone_before(tokens: list[_Word], index: int) -> Tone | None:
    if index == 0:
        return None
    word = tokens[index - 1].text
    return TONE_WORDS.get(word) or COLOUR_QUALIFIERS.get(word)


def _garment_after(tokens: list[_Word], index: int) -> frozenset[str] | None:
    """The garment labels of the garment word this colour describes, if one follows within a short phrase."""
    for token in tokens[index + 1 : index + 5]:
        kinds = {sense.kind for sense in token.senses}
        garment = [sense for sense in token.senses if sense.kind == "garment"]
        if garment:
            return frozenset().union(*(sense.values for sense in garment))
        qualifier = token.text in TONE_WORDS or token.text in COLOUR_QUALIFIERS
        if not kinds and token.text not in _BINDING_GLUE and not qualifier:
            return None
        if kinds and kinds <= {"colour", "fabric"}:
            continue
        if kinds:
            return None
    return None


@lru_cache(maxsize=1)
def _dictionary() -> frozenset[str]:
    """Words a hashtag may be split into. Compound tag words that contain an attribute word (#mensfashion,
    #blackandwhite, #sneakerhead) are left out so that they get split and their claims are seen."""
    attribute_words = set(LEXICON) | set(TONE_WORDS) | set(COLOUR_QUALIFIERS)
    plain = (known_tag_words() | FILLER_WORDS) - attribute_words
    base = frozenset(attribute_words | plain)
    kept = {word for word in plain if not _splits_into_claims(word, base - {word})}
    return frozenset(attribute_words | kept)


def _splits_into_claims(word: str, dictionary: frozenset[str]) -> bool:
    pieces = _segment(word, dictionary)
    return pieces is not None and len(pieces) > 1 and any(lemma(piece) for piece in pieces) and all(
        piece in dictionary or lemma(piece) for piece in pieces
    )


def split_hashtag(body: str) -> list[str]:
    """The words a hashtag body glues together; unknown stretches come back as single pieces."""
    pieces = _segment(body, _dictionary(), allow_unknown=True)
    return pieces or [body]


def _segment(text: str, dictionary: frozenset[str], allow_unknown: bool = False) -> list[str] | None:
    """Fewest unknown characters first, then fewest pieces. Without allow_unknown: a full split or None."""
    size = len(text)
    best: list[tuple[int, int, int] | None] = [None] * (size + 1)  # (unknown chars, pieces, previous cut)
    best[0] = (0, 0, 0)
    for end in range(1, size + 1):
        for start in range(max(0, end - _MAX_WORD), end):
            before = best[start]
            if before is None:
                continue
            piece = text[start:end]
            if piece in dictionary or lemma(piece) is not None:
                cost = (before[0], before[1] + 1, start)
            elif allow_unknown:
                cost = (before[0] + len(piece), before[1] + 1, start)
            else:
                continue
            current = best[end]
            if current is None or cost[:2] < current[:2]:
                best[end] = cost
    if best[size] is None:
        return None
    return _merge_unknown(_backtrack(text, best), dictionary)


def _backtrack(text: str, best: list[tuple[int, int, int] | None]) -> list[str]:
    pieces: list[str] = []
    end = len(text)
    while end > 0:
        entry = best[end]
        assert entry is not None
        pieces.append(text[entry[2] : end])
        end = entry[2]
    return pieces[::-1]


def _merge_unknown(pieces: list[str], dictionary: frozenset[str]) -> list[str]:
    merged: list[str] = []
    for piece in pieces:
        known = piece in dictionary or lemma(piece) is not None
        if merged and not known and not (merged[-1] in dictionary or lemma(merged[-1]) is not None):
            merged[-1] += piece
        else:
            merged.append(piece)
    return merged
