"""The hallucination guard: every attribute claim in a caption and its hashtags must be backed by the evidence pack.

Evidence attributes (what a caption should mention): each detected garment label, each garment's dominant colour,
the fabric and the gender when the vision stage knows them. Supported claims: any label, any colour of any garment
(bound colours: of that garment), the known fabric and gender. attribute_coverage = share of evidence attributes the
caption mentions (the hashtags are not counted: the composer adds attribute tags to every result);
hashtag_coverage = share of evidence attributes the hashtags represent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from shared.schemas import SHOP_SOURCES, EvidencePack, Grounding, ShopMetadata
from workers.language import open_claims
from workers.language.claims import Claim, hashtag_claims, text_claims
from workers.language.vocabulary import COLOUR_QUALIFIERS, COLOUR_WORDS, TONE_WORDS, Tone, words_of

_SPELLING = {"gray": "grey"}


@dataclass(frozen=True)
class ColourFact:
    """A colour the vision stage named, parsed into hue families and a tone."""

    name: str
    families: frozenset[str]
    tone: Tone | None

    @classmethod
    def parse(cls, name: str) -> ColourFact:
        words = words_of(name)
        families: set[str] = set()
        tone: Tone | None = None
        for word in words:
            if word in COLOUR_WORDS:
                word_families, word_tone = COLOUR_WORDS[word]
                families |= word_families
                tone = tone or word_tone
            elif word in TONE_WORDS or word in COLOUR_QUALIFIERS:
                tone = TONE_WORDS.get(word) or COLOUR_QUALIFIERS.get(word)
        return cls(name.lower().strip(), frozenset(families), tone)

    def named_by(self, claim: Claim) -> bool:
        """Hashtags are strict: the colour word must be one the evidence uses (#blackbag, never #charcoalbag
        for a black bag), with its tone word when the tag has one."""
        words = {_SPELLING.get(word, word) for word in words_of(self.name)}
        if _SPELLING.get(claim.surface, claim.surface) not in words:
            return False
        return claim.tone is None or claim.tone == claim.sense.tone or claim.tone == self.tone

    def accepts(self, claim: Claim) -> bool:
        if not (claim.sense.values & self.families):
            return False
        return claim.tone is None or self.tone is None or claim.tone == self.tone


@dataclass(frozen=True)
class Attribute:
    """One thing the evidence says, which a caption should mention: ("garment", "jacket"), ("colour", "navy")..."""

    kind: str
    value: str
    colour: ColourFact | None = None

    def mentioned_by(self, claim: Claim) -> bool:
        if claim.sense.kind != self.kind:
            return False
        if self.colour is not None:
            return self.colour.accepts(claim)
        return self.value in claim.sense.values


@dataclass(frozen=True)
class GarmentFacts:
    label: str
    colours: tuple[ColourFact, ...]
    category: str | None = None  # the finer type, when the type head (or the shop) named one
    from_shop: bool = False  # the shop said what it is: its own words for it are not ours to check

    def named_by(self, claim: Claim) -> bool:
        """The claim's garment word fits: its class, and a finer type only where this garment is of that type."""
        types = claim.sense.types
        return self.label in claim.sense.values and (types is None or self.from_shop or self.category in types)


@dataclass(frozen=True)
class Evidence:
    garments: tuple[GarmentFacts, ...]
    fabric: str | None
    gender: str | None
    attributes: tuple[Attribute, ...]

    @classmethod
    def of(cls, pack: EvidencePack) -> Evidence:
        garments = tuple(
            GarmentFacts(g.label, tuple(ColourFact.parse(c.name) for c in sorted(g.colours, key=lambda c: -c.share)),
                         g.category, g.source in SHOP_SOURCES)
            for g in sorted(pack.garments, key=lambda g: -g.score)
        )
        fabric = pack.attributes.fabric.value
        gender = pack.attributes.gender.value
        return cls(garments, fabric, gender, _required_attributes(garments, fabric, gender))

    def supports(self, claim: Claim) -> bool:
        kind = claim.sense.kind
        if kind == "garment":
            return any(garment.named_by(claim) for garment in self.garments)
        if kind == "fabric":
            return self.fabric is not None and self.fabric in claim.sense.values
        if kind == "gender":
            return self.gender is not None and self.gender in claim.sense.values
        garments = [g for g in self.garments if claim.bound_to is None or g.label in claim.bound_to]
        return any(colour.accepts(claim) for g in garments for colour in g.colours)

    def supports_in_hashtag(self, claim: Claim) -> bool:
        if claim.sense.kind != "colour":
            return self.supports(claim)
        garments = [g for g in self.garments if claim.bound_to is None or g.label in claim.bound_to]
        return any(colour.named_by(claim) for g in garments for colour in g.colours)


def _required_attributes(
    garments: tuple[GarmentFacts, ...], fabric: str | None, gender: str | None
) -> tuple[Attribute, ...]:
    attributes: list[Attribute] = []
    seen: set[tuple[str, str]] = set()

    def add(attribute: Attribute) -> None:
        if (attribute.kind, attribute.value) not in seen:
            seen.add((attribute.kind, attribute.value))
            attributes.append(attribute)

    for garment in garments:
        add(Attribute("garment", garment.label))
        if garment.colours:
            add(Attribute("colour", garment.colours[0].name, garment.colours[0]))
    if fabric is not None:
        add(Attribute("fabric", fabric))
    if gender is not None:
        add(Attribute("gender", gender))
    return tuple(attributes)


@dataclass(frozen=True)
class GroundingReport:
    attribute_coverage: float
    hashtag_coverage: float
    unsupported: tuple[str, ...]
    missing: tuple[Attribute, ...]

    @property
    def clean(self) -> bool:
        return not self.unsupported

    def to_schema(self) -> Grounding:
        return Grounding(
            attribute_coverage=round(self.attribute_coverage, 4),
            hashtag_coverage=round(self.hashtag_coverage, 4),
            unsupported=list(self.unsupported),
        )


def unsupported_claims(evidence: Evidence, claims: list[Claim]) -> list[str]:
    return [claim.describe() for claim in claims if not evidence.supports(claim)]


def unsupported_tag_claims(evidence: Evidence, claims: list[Claim]) -> list[str]:
    return [claim.describe() for claim in claims if not evidence.supports_in_hashtag(claim)]


def hashtag_is_grounded(evidence: Evidence, tag: str, meta: ShopMetadata | None = None) -> bool:
    return not unsupported_tag_claims(evidence, hashtag_claims(tag)) and not open_claims.unstated(tag, meta, True)


def check(evidence: Evidence, caption: str, hashtags: list[str], meta: ShopMetadata | None = None
          ) -> GroundingReport:
    """Closed-vocabulary claims against the evidence, open claims against the shop's metadata. The shop's own
    brand hashtags are its statements and are not checked."""
    caption_claims = text_claims(caption)
    brand_tags = {"#" + re.sub(r"[^0-9a-z]", "", tag.lower()) for tag in meta.brand_hashtags} if meta else set()
    checked_tags = [tag for tag in hashtags if tag.lower() not in brand_tags]
    tag_claims = [claim for tag in checked_tags for claim in hashtag_claims(tag)]
    unsupported = unsupported_claims(evidence, caption_claims)
    unsupported += [f"{c} (hashtag)" for c in unsupported_tag_claims(evidence, tag_claims)]
    unsupported += [claim.describe() for claim in open_claims.unstated(caption, meta)]
    unsupported += [f"{c.describe()} (hashtag)" for tag in checked_tags
                    for c in open_claims.unstated(tag, meta, hashtag=True)]
    required = evidence.attributes
    in_text = [a for a in required if _mentioned(a, caption_claims, caption)]
    in_tags = [a for a in required if _mentioned(a, tag_claims, " ".join(hashtags))]
    missing = tuple(a for a in required if a not in in_text)
    return GroundingReport(
        attribute_coverage=_share(len(in_text), len(required)),
        hashtag_coverage=_share(len(in_tags), len(required)),
        unsupported=tuple(dict.fromkeys(unsupported)),
        missing=missing,
    )


def _mentioned(attribute: Attribute, claims: list[Claim], text: str) -> bool:
    if any(attribute.mentioned_by(claim) for claim in claims):
        return True
    # a colour name our lexicon does not know still counts when written out verbatim
    return attribute.kind == "colour" and attribute.value.replace(" ", "") in "".join(words_of(text))


def _share(part: int, whole: int) -> float:
    return 1.0 if whole == 0 else part / whole
