"""Cheap checks that keep grounded-but-unpublishable LLM text out: prompt echoes, injected links, copied demos,
and the garbled phrasing a small model produces ("black trousers and a denim", "white shirt, a white shirt",
"a jacket in a bag", "a black trousers", "a look ... a look", "Charcoal, grey: charcoal jacket with black bag");
`polish` repairs a/an agreement."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from shared.schemas import ShopMetadata
from workers.language.prompt import DEMOS, SYSTEM
from workers.language.vocabulary import COLOUR_QUALIFIERS, TONE_WORDS, lemma, senses, words_of

ECHO_NGRAM = 5
# a demonstration's turn of phrase may be reused ("an easy look for women"); a near-verbatim copy may not
DEMO_COPY_NGRAM = 8
# a style example is another product's description (about 10-20 words): six of its words in a row carry its details
STYLE_COPY_NGRAM = 6
MIN_WORDS = 4
_LINK = re.compile(r"https?://|www\.|\.com\b|@\w", re.IGNORECASE)
_ARTICLES = frozenset({"a", "an", "one"})


def _ngrams(text: str, size: int) -> set[tuple[str, ...]]:
    words = words_of(text)
    return {tuple(words[i : i + size]) for i in range(len(words) - size + 1)}


_SYSTEM_NGRAMS = _ngrams(SYSTEM, ECHO_NGRAM)
_DEMO_NGRAMS = set().union(*(_ngrams(str(demo.answer["caption"]), DEMO_COPY_NGRAM) for demo in DEMOS))


def problems(caption: str, meta: ShopMetadata | None, style_examples: Sequence[str] = (),
             garment_labels: Sequence[str] | None = None) -> list[str]:
    """Why this caption should not be published, beyond grounding; empty when it may be. A style example is
    another product's copy: its voice may be reused, a near-verbatim sentence of it (its details) may not.
    `garment_labels`: the evidence's garments (one label each), against which plurals are counted."""
    found = []
    if _LINK.search(caption):
        found.append("link or handle")
    ngrams = _ngrams(caption, ECHO_NGRAM)
    if ngrams & _SYSTEM_NGRAMS:
        found.append("echoes the instructions")
    if meta is not None and meta.title and ngrams & _ngrams(meta.title, ECHO_NGRAM):
        found.append("echoes the shop title")
    copy_ngrams = _ngrams(caption, DEMO_COPY_NGRAM)
    if copy_ngrams & _DEMO_NGRAMS:
        found.append("copies a demonstration")
    style_ngrams = _ngrams(caption, STYLE_COPY_NGRAM)
    if any(style_ngrams & _ngrams(example, STYLE_COPY_NGRAM) for example in style_examples):
        found.append("copies a style example")
    words = words_of(caption)
    if len(words) < MIN_WORDS:
        found.append("too short")
    word_checks: tuple[tuple[Callable[[list[str]], bool], str], ...] = (
        (_repeated_garment, "names a garment twice"),
        (_fabric_as_thing, "a fabric used as a garment"),
        (_garment_inside_garment, "a garment inside another garment"),
        (_repeated_noun, "repeats a noun"),
        (_article_before_plural, "a/an before a plural"),
        (_word_and_itself, "a word joined to itself"),
        (_repeated_colour_word, "names a colour twice"),
    )
    found += [why for check, why in word_checks if check(words)]
    if _colour_heading(caption):
        found.append("a bare colour list")
    if _PARENTHESIS.search(caption):
        found.append("echoes the evidence format")
    if _garment_list_heading(_PARENTHESIS.sub("", caption)):
        found.append("a bare list of garments")
    if _unfinished(caption):
        found.append("an unfinished sentence")
    if _missing_article(caption):
        found.append("a singular garment without an article")
    if _SINGULAR_OF_PLURAL_ONLY & set(words):
        found.append("a plural-only garment in the singular")
    if _OFF_MESSAGE & set(words) or "n't" in caption.lower().replace("’", "'"):
        found.append("negative or off-message wording")
    if _FIRST_PERSON_SINGULAR & set(words):
        found.append("a first-person narrator")
    if garment_labels is not None and plural_of_one(caption, garment_labels):
        found.append("a plural garment the evidence holds once")
    return found


def polish(caption: str) -> str:
    """Fix what needs no judgement: "a" / "an" by the sound of the next word, no article before a plural garment
    ("a black trousers" -> "black trousers"), doubled spaces."""
    caption = " ".join(caption.split())

    def article(match: re.Match[str]) -> str:
        word, following = match.group(1), match.group(2)
        wanted = "an" if _vowel_sound(following) else "a"
        if word.lower() == wanted:
            return match.group(0)
        fixed = wanted.capitalize() if word[0].isupper() else wanted
        return f"{fixed} {following}"

    return _ARTICLE.sub(article, _PLURAL_AFTER_ARTICLE.sub(_drop_article, caption))


def capitalise(caption: str) -> str:
    """A published caption starts with a capital ("charcoal jacket, ..." from a small model)."""
    return caption[:1].upper() + caption[1:]


def close_sentence(caption: str) -> str:
    """A published caption ends its last sentence ("A jacket and a bag: stylish, comfortable" gets its full stop)."""
    stripped = caption.rstrip()
    return stripped + "." if stripped and stripped[-1].isalnum() else stripped


def _drop_article(match: re.Match[str]) -> str:
    """'A black trousers' -> 'Black trousers' when only colours, tones and fabrics stand between."""
    between = match.group(2).split()
    if not all(_describes(word.lower()) for word in between):
        return match.group(0)
    rest = match.group(2) + match.group(3)
    return rest[0].upper() + rest[1:] if match.group(1)[0].isupper() else rest


_ARTICLE = re.compile(r"\b(an?|An?)\s+([A-Za-z][\w-]*)")
_VOWEL_SOUND_EXCEPTIONS = ("hour", "honest", "honour", "honor", "heir")
_CONSONANT_SOUND_EXCEPTIONS = ("uni", "use", "usu", "one", "once", "euro", "ewe", "uti")


def _vowel_sound(word: str) -> bool:
    lowered = word.lower()
    if lowered.startswith(_VOWEL_SOUND_EXCEPTIONS):
        return True
    if lowered.startswith(_CONSONANT_SOUND_EXCEPTIONS):
        return False
    return lowered[0] in "aeiou"


_INSIDE = frozenset({"in", "inside", "within"})
_PHRASE_GLUE = frozenset({"a", "an", "the", "one", "this", "that", "our", "your", "its", "their", "his", "her"})
# nouns that sound clumsy twice in one short caption; garments are checked by _repeated_garment
_STYLE_NOUNS_TEXT = (
    "look looks outfit outfits style styles piece pieces day days weekend weekends wardrobe pairing pair "
    "pairs touch finish colour colours color shade shades season moment vibe vibes staple staples combo "
    "classic"
)
_STYLE_NOUNS = frozenset(_STYLE_NOUNS_TEXT.split())
_PLURAL_GARMENT_WORDS_TEXT = (
    "pants trousers jeans shorts sunglasses glasses shades leggings chinos slacks joggers shoes sneakers "
    "trainers boots heels sandals loafers mules flats kicks espadrilles stilettos"
)
_PLURAL_GARMENT_WORDS = frozenset(_PLURAL_GARMENT_WORDS_TEXT.split())
# a shop's caption sells: negation and gloom from a small model ("it's not very fun", "a woman of any gender")
# a shop speaks as "we" or not at all; a caption in someone's own voice ("Myself: I'm going to make a shoe, I'll
# bring it with me tomorrow.", published by the embedded LLM on 30 Nov 2026) is a persona the shop did not choose
_FIRST_PERSON_SINGULAR = frozenset({"i", "me", "my", "myself", "mine"})
_OFF_MESSAGE = frozenset({"not", "no", "never", "nothing", "nobody", "none", "hate", "ugly", "boring", "bad", "worst",
                          "sad", "gender", "genders"})
# "a sunglass", "a trouser": these garments only exist in the plural
_SINGULAR_OF_PLURAL_ONLY = frozenset({"sunglass", "trouser", "pant", "jean", "legging", "chino"})
_PLURAL_AFTER_ARTICLE = re.compile(
    r"\b(an?|An?)\s+((?:[A-Za-z]+\s+){0,3}?)(" + "|".join(sorted(_PLURAL_GARMENT_WORDS)) + r")\b"
)


def plural_of_one(caption: str, labels: Sequence[str]) -> bool:
    """A garment named in the plural that the evidence holds once or not at all ("pants, jackets and shoes" for one
    jacket). Words that are plural for one item ("trousers", "shoes", "sunglasses") are not counted."""
    for word in words_of(caption):
        if word in _PLURAL_GARMENT_WORDS or not word.endswith("s"):
            continue
        singular = lemma(word)
        if singular is None or singular == word:
            continue
        classes = {value for sense in senses(singular) if sense.kind == "garment" for value in sense.values}
        if classes and all(labels.count(label) < 2 for label in classes):
            return True
    return False


def _garment_inside_garment(words: list[str]) -> bool:
    """'a jacket in a bag', 'trousers inside black shoes': a garment, a preposition of containment, then
    (after articles, colours and fabrics) another garment. 'A jacket in cotton' is fine."""
    for index, word in enumerate(words):
        if word not in _INSIDE or index == 0 or not _is_garment(words[index - 1]):
            continue
        position = index + 1
        if position < len(words) and words[position] in _PHRASE_GLUE:
            position += 1
        while position < len(words) and _describes(words[position]):
            position += 1
        if position < len(words) and _is_garment(words[position]):
            return True
    return False


def _is_garment(word: str) -> bool:
    return any(s.kind == "garment" for s in senses(word))


def _describes(word: str) -> bool:
    return word in TONE_WORDS or word in COLOUR_QUALIFIERS or any(s.kind in {"colour", "fabric"} for s in senses(word))


def _repeated_noun(words: list[str]) -> bool:
    nouns = [word.rstrip("s") for word in words if word in _STYLE_NOUNS]
    return len(nouns) != len(set(nouns))


def _article_before_plural(words: list[str]) -> bool:
    """'a black trousers', 'an white shoes': an article, colours or fabrics, then a plural garment word."""
    for index, word in enumerate(words):
        if word not in {"a", "an"}:
            continue
        position = index + 1
        while position < len(words) and _describes(words[position]) and not _is_garment(words[position]):
            position += 1
        if position < len(words) and words[position] in _PLURAL_GARMENT_WORDS:
            return True
    return False


def _repeated_garment(words: list[str]) -> bool:
    """The same detector label named twice ("a black sunglass in a pair of sunglasses")."""
    labels = [label for word in words for s in senses(word) if s.kind == "garment" for label in s.values]
    return len(labels) != len(set(labels))


def _word_and_itself(words: list[str]) -> bool:
    """'Unusual and unusual: a pair of trousers.' (the embedded LLM, 30 Nov 2026)."""
    return any(words[i] == words[i + 2] and words[i + 1] in ("and", "or") for i in range(len(words) - 2))


def _repeated_colour_word(words: list[str]) -> bool:
    """A garment 'in' the colour it was already given: 'A black dress in black' (the embedded LLM, 30 Nov 2026).
    Two garments of one colour ('a black jacket with black trousers') are fine."""
    for i, word in enumerate(words):
        if _is_colour(word) and word not in COLOUR_QUALIFIERS:
            following = words[i + 1:i + 5]
            if any(following[j] == "in" and following[j + 1] == word for j in range(len(following) - 1)):
                return True
    return False


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


_CLAUSE = re.compile(r"[:;.!?]+")
# "jacket (from charcoal, grey, white)": the evidence lines' "label (colour, colour)" copied into the caption
_PARENTHESIS = re.compile(r"\([^)]*\)|\[[^\]]*\]")
_TOKEN = re.compile(r"[A-Za-z0-9'’-]+|[,:;.!?&]")
# after these a singular garment needs its article: "with black bag" -> "with a ...". A list may share its first
# article ("a navy jacket, white shirt and black shoes"), and a headline may drop it, as shops' own product copy
# does ("Black dress in jersey: ...", "Fitted top in cotton jersey."), so commas, "and" and clause starts do not count
_NEEDS_ARTICLE_AFTER = frozenset({"with", "over", "under", "plus", "in", "into", "from", "to", "on"})
_DETERMINERS = frozenset({"a", "an", "the", "this", "that", "our", "your", "my", "his", "her", "their", "its", "one",
                          "each", "every", "any", "another", "which"})


def _colour_heading(caption: str) -> bool:
    """'Charcoal, grey: ...': a clause made of colour words alone, naming no garment."""
    for clause in _CLAUSE.split(caption):
        words = [w for w in words_of(clause) if w not in {"and", "or", "in"}]
        if words and all(_is_colour(w) or w in TONE_WORDS or w in COLOUR_QUALIFIERS for w in words):
            return True
    return False


def _missing_article(caption: str) -> bool:
    """'charcoal jacket with black bag': after a preposition, colours or fabrics and then a singular garment noun
    with no article. Needs a describing word, so that verbs ('dress up', 'top it off') and compounds pass."""
    tokens = [t.lower().replace("’", "'") for t in _TOKEN.findall(caption)]
    for index, token in enumerate(tokens):
        if not _is_singular_garment(token):
            continue
        position = index - 1
        while position >= 0 and tokens[position] not in _DETERMINERS and _describes(_plain(tokens[position])):
            position -= 1
        if position == index - 1:
            continue  # no describing word right before the noun
        if position >= 0 and tokens[position] in _NEEDS_ARTICLE_AFTER:
            return True
    return False


def _plain(token: str) -> str:
    words = words_of(token)
    return words[0] if words else ""


def _is_singular_garment(token: str) -> bool:
    """A garment noun in the singular form of a countable garment ('bag', 'dress'; not 'shoes', 'jeans')."""
    if not _is_garment(token) or token in _PLURAL_GARMENT_WORDS or token in _SINGULAR_OF_PLURAL_ONLY:
        return False
    return lemma(token) == token and token not in {"footwear", "eyewear", "headwear", "outerwear", "knitwear",
                                                   "shades", "kicks", "flats", "chinos", "joggers", "leggings"}


# a sentence cut off by the token limit or abandoned by the model ends on one of these ("... for the most")
_DANGLING = frozenset({"a", "an", "the", "and", "or", "but", "with", "for", "of", "to", "in", "on", "at", "by",
                       "from", "over", "under", "into", "most", "more", "very", "so", "your", "our", "its", "their",
                       "this", "that", "is", "are", "makes", "make"})


# words no sentence ends with, even when a full stop follows ("a stylish choice for any.": 30 Nov 2026)
_NEVER_LAST = frozenset({"a", "an", "the", "and", "or", "but", "with", "for", "of", "any", "every", "your", "our",
                         "their", "very", "most"})


def _unfinished(caption: str) -> bool:
    """No closing punctuation after a word that cannot end a sentence, a caption that stops on a colon or comma
    ("Women wearing trousers, a new favourite for the weekend:"), or a last word no sentence ends with."""
    stripped = caption.rstrip()
    words = words_of(stripped)
    if not words:
        return False
    if stripped[-1] in ":,;" or words[-1] in _NEVER_LAST:
        return True
    return stripped[-1] not in ".!?)\"'" and words[-1] in _DANGLING


def _garment_list_heading(caption: str) -> bool:
    """'charcoal jacket, charcoal bag: ...': before the colon, two or more bare garment phrases (colours or
    fabrics and a garment, no article, one of them singular), a list of labels rather than a line a shop writes."""
    if ":" not in caption:
        return False
    heading = caption.split(":", 1)[0]
    parts = [part for part in re.split(r",|\band\b|&", heading.lower()) if part.strip()]
    if len(parts) < 2:
        return False
    for part in parts:
        words = words_of(part)
        if not words or not _is_garment(words[-1]) or not all(_describes(w) for w in words[:-1]):
            return False
    # plural garments need no article ("Black trousers and white shoes: ..."); a bare singular one does
    return any(_is_singular_garment(words_of(part)[-1]) for part in parts)
