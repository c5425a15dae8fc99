"""Hashtags a shop would publish: the shop's brand tags, attribute tags from the evidence, then the LLM's tags that
are made of vocabulary words and grounded, then popular fashion tags ranked by real Instagram frequencies
(HARRISON). Every tag but the shop's own passes the grounding check (colour words exactly as the evidence names
them), the open-claim guard and the shop's banned words; the list is deduplicated case-insensitively and cut to
the shop's or the settings' maximum."""

from __future__ import annotations

import re
from dataclasses import dataclass

from shared.schemas import ShopMetadata
from shared.settings import Settings
from workers.language.claims import split_hashtag
from workers.language.grounding import Evidence, hashtag_is_grounded
from workers.language.harrison import GENERIC_FASHION_TAGS, popular_fashion_tags
from workers.language.vocabulary import FILLER_WORDS, GARMENT_NOUN, GENDER_TAG_PREFIX, is_attribute_word, senses

MAX_TAG_CHARS = 30
# HARRISON tags are lemmatised; a shop writes the everyday form
PUBLISHED_FORM: dict[str, str] = {
    "shoe": "shoes", "sneaker": "sneakers", "jean": "jeans", "pant": "pants", "sunglass": "sunglasses",
    "heel": "heels", "accessory": "accessories",
}
_PUBLISHED_GENERIC = frozenset(PUBLISHED_FORM.get(tag, tag) for tag in GENERIC_FASHION_TAGS)
_NOT_TAG_CHARS = re.compile(r"[^0-9a-zA-Z]+")


@dataclass(frozen=True)
class HashtagLimits:
    least: int
    most: int

    @classmethod
    def of(cls, settings: Settings, meta: ShopMetadata | None) -> HashtagLimits:
        most = settings.hashtags_max
        if meta is not None and meta.max_hashtags is not None:
            most = meta.max_hashtags
        return cls(min(settings.hashtags_min, most), most)


def normalise(tag: str) -> str | None:
    """'#Navy Blazer!' -> '#NavyBlazer'; None when nothing usable is left."""
    body = _NOT_TAG_CHARS.sub("", tag)
    if not body or len(body) > MAX_TAG_CHARS or body.isdigit():
        return None
    return "#" + body


def is_banned(tag: str, banned_words: list[str]) -> bool:
    body = tag.lstrip("#").lower()
    return any(word and _NOT_TAG_CHARS.sub("", word.lower()) in body for word in banned_words if word.strip())


def attribute_tags(evidence: Evidence) -> list[str]:
    """Tags that carry the evidence, the most coverage per tag first: #navyjacket (colour and garment) for each
    garment, then #cotton and #womensfashion, then plain garment tags and #cottonjacket."""
    specific: list[str] = []
    plain: list[str] = []
    for garment in evidence.garments:
        noun = GARMENT_NOUN.get(garment.label, garment.label)
        if garment.colours:
            specific.append("#" + garment.colours[0].name.replace(" ", "") + noun)
            plain.append("#" + noun)
        else:
            specific.append("#" + noun)
    if evidence.fabric is not None:
        specific.append("#" + evidence.fabric)
    if evidence.gender is not None:
        specific.append("#" + GENDER_TAG_PREFIX.get(evidence.gender, evidence.gender) + "fashion")
    if evidence.fabric is not None and evidence.garments:
        first = evidence.garments[0].label
        plain.append("#" + evidence.fabric + GARMENT_NOUN.get(first, first))
    return specific + plain


def popular_tags() -> list[str]:
    return ["#" + PUBLISHED_FORM.get(row.tag, row.tag) for row in popular_fashion_tags()]


def brand_tags(meta: ShopMetadata | None) -> list[str]:
    """The shop's own hashtags, normalised; published first and never checked against the photo."""
    if meta is None:
        return []
    return [tag for tag in (normalise(raw) for raw in meta.brand_hashtags) if tag is not None]


def from_vocabulary(tag: str) -> bool:
    """A model's tag is published only when it is made of words we understand: attribute and filler words
    (#navyblazer, #summerstyle), or a curated HARRISON fashion tag (#streetstyle). Free text (#charlottesuit)
    never is."""
    body = tag.lstrip("#").lower()
    if body in GENERIC_FASHION_TAGS or body in _PUBLISHED_GENERIC:
        return True
    pieces = split_hashtag(body)
    if not all(piece in FILLER_WORDS or is_attribute_word(piece) for piece in pieces):
        return False
    # two garments glued into one tag (#jacketgobag, #shirtjeans) is a stitched phrase, not a tag anyone uses
    garments = [piece for piece in pieces if any(sense.kind == "garment" for sense in senses(piece))]
    return len(garments) <= 1


def compose(
    evidence: Evidence,
    llm_tags: list[str],
    limits: HashtagLimits,
    banned_words: list[str],
    meta: ShopMetadata | None = None,
) -> list[str]:
    """The shop's brand tags, then attribute tags (they carry the coverage), then the model's vocabulary tags,
    then popular ones; every tag but the shop's own is grounded and free of open claims."""
    brand = _accept(brand_tags(meta), evidence, banned_words, limits.most, [], None, check=False)
    attribute = attribute_tags(evidence)
    model = [tag for tag in llm_tags if (normalised := normalise(tag)) is not None and from_vocabulary(normalised)]
    reserved_for_popular = min(3, max(0, limits.most - len(brand) - len(attribute)))
    head = _accept(attribute + model, evidence, banned_words, limits.most - reserved_for_popular, brand, meta)
    return _accept(popular_tags(), evidence, banned_words, limits.most, head, meta)


def _accept(candidates: list[str], evidence: Evidence, banned_words: list[str], most: int,
            accepted: list[str], meta: ShopMetadata | None, check: bool = True) -> list[str]:
    accepted = list(accepted)
    seen = {tag.lower() for tag in accepted}
    for candidate in candidates:
        if len(accepted) >= most:
            break
        tag = normalise(candidate)
        if tag is None or tag.lower() in seen or is_banned(tag, banned_words):
            continue
        if check and not hashtag_is_grounded(evidence, tag, meta):
            continue
        seen.add(tag.lower())
        accepted.append(tag)
    return accepted
