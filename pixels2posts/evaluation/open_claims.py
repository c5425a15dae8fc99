"""Open claims: properties no photo or evidence pack can support, counted in caption text whoever wrote it.

This is the measuring side, kept apart from (and simpler than) any guard in the language stage: a fixed list of
patterns, one count per match. Categories: care/performance claims (waterproof, breathable...), provenance
(handmade, organic, sustainable, made in X), measurements (sizes and weights), prices and money, discounts and
offers, links and handles, and calls to action (shop now, link in bio, buy, order, DM).
"""

from __future__ import annotations

import re
from collections import Counter

OPEN_CLAIM_PATTERNS: dict[str, str] = {
    "performance": r"\b(water ?proof|water-?resistant|wind ?proof|breathable|moisture-wicking|quick-dry(ing)?|"
                   r"stain-?resistant|wrinkle-?free|non-iron|uv protection|anti-?bacterial|thermal)\b",
    "provenance": r"\b(hand ?made|hand-?crafted|hand-?stitched|organic|sustainabl[ey]|eco-?friendly|recycled|"
                  r"ethically|fair ?trade|vegan|vintage|limited edition|designer|luxury|premium)\b",
    "made_in": r"\bmade in (the )?[a-z]+",
    "measurement": r"\b\d+([.,]\d+)?\s?(inch(es)?|cm|mm|centimet(er|re)s?|denier|oz|gsm|kg)\b",
    "price": r"([$€£¥]\s?\d)|(\d+([.,]\d+)?\s?(usd|eur|gbp|dollars?|euros?|pounds?)\b)|\bprice[ds]?\b|\bcheap\b|"
             r"\baffordable\b",
    "discount": r"\b(\d+\s?% off|discount(ed)?|sale|deal|offer|free shipping|promo(tion)?|coupon|bargain)\b",
    "link": r"(https?://\S+|www\.\S+|\b[a-z0-9-]+\.(com|net|org|shop|store|co)\b|@[a-z0-9_]{2,})",
    "call_to_action": r"\b(shop now|buy (it )?now|order now|link in (the )?bio|dm (us|me)|click|tap the link|"
                      r"swipe up|add to (your )?(cart|basket)|grab (yours|it|one)|get yours|don'?t miss)\b",
}
_COMPILED = {name: re.compile(pattern, re.IGNORECASE) for name, pattern in OPEN_CLAIM_PATTERNS.items()}
CATEGORIES: tuple[str, ...] = tuple(OPEN_CLAIM_PATTERNS)


def count_open_claims(text: str) -> Counter[str]:
    """How many open claims of each category the text makes."""
    counts: Counter[str] = Counter()
    for name, pattern in _COMPILED.items():
        found = len(pattern.findall(text))
        if found:
            counts[name] = found
    return counts
