"""Cheap checks that keep grounded-but-unpublishable LLM text out: prompt echoes, injected links, copied demos,
and the garbled phrasing a small model produces ("black trousers and a denim", "white shirt, a white shirt")."""

from __future__ import annotations

import re

from shared.schemas import ShopMetadata
from workers.language.prompt import DEMOS, SYSTEM
from workers.language.vocabulary import COLOUR_QUALIFIERS, TONE_WORDS, senses, words_of

ECHO_NGRAM = 5
# a demonstration's turn of phrase may be reused ("an easy look for women"); a near-verbatim copy may not
DEMO_COPY_NGRAM = 8
MIN_WORDS = 4
_LINK = re.compile(r"https?://|www\.|\.com\b|@\w", re.IGNORECASE)
_ARTICLES = frozenset({"a", "an", "one"})


def _ngrams(text: str, size: int) -> set[tuple[str, ...]]:
    words = words_of(text)
    return {tuple(words[i : i + size]) for i in range(len(words) - size + 1)}


_SYSTEM_NGRAMS = _ngrams(SYSTEM, ECHO_NGRAM)
_DEMO_NGRAMS = set().union(*(_ngrams(str(demo.answer["caption"]), DEMO_COPY_NGRAM) for demo in DEMOS))


def problems(caption: str, meta: ShopMetadata | None) -> list[str]:
    """Why this caption should not be published, beyond grounding; empty when it may be."""
    found = []
    if _LINK.search(caption):
        found.append("link or handle")
    ngrams = _ngrams(caption, ECHO_NGRAM)
    if ngrams & _SYSTEM_NGRAMS:
        found.append("echoes the instructions")
    if meta is not None and meta.title and ngrams & _ngrams(meta.title, ECHO_NGRAM):
        found.append("echoes the shop title")
    if _ngrams(caption, DEMO_COPY_NGRAM) & _DEMO_NGRAMS:
        found.append("copies a demonstration")
    words = words_of(caption)
    if len(words) < MIN_WORDS:
        found.append("too short")
    if _repeated_garment(words):
        found.append("names a garment twice")
    if _fabric_as_thing(words):
        found.append("a fabric used as a garment")
    return found


def _repeated_garment(words: list[str]) -> bool:
    """The same detector label named twice ("a black sunglass in a pair of sunglasses")."""
    labels = [label for word in words for s in senses(word) if s.kind == "garment" for label in s.values]
    return len(labels) != len(set(labels))


def _is_colour(word: str) -> bool:
    return any(s.kind == "colour" for s in senses(word))


def _describes_colour(words: list[str], position: int) -> bool:
    """A colour, a tone ("dark") or a qualifier that a colour follows ("denim blue")."""
    word = words[position]
    if word in TONE_WORDS or _is_colour(word):
        return True
    return word in COLOUR_QUALIFIERS and position + 1 < len(words) and _is_colour(words[position + 1])


def _fabric_as_thing(words: list[str]) -> bool:
    """'a denim', 'a grey jersey,': an article, maybe colours, then a fabric word that no garment word follows."""
    for index, word in enumerate(words):
        if word not in _ARTICLES:
            continue
        position = index + 1
        while position < len(words) and _describes_colour(words, position):
            position += 1
        if position >= len(words):
            continue
        kinds = {s.kind for s in senses(words[position])}
        if "fabric" in kinds and "garment" not in kinds:
            following = senses(words[position + 1]) if position + 1 < len(words) else ()
            if not any(s.kind == "garment" for s in following):
                return True
    return False
