"""The open-claim guard: claims no photo can support, rejected unless the shop's own metadata states them.

The grounding check (grounding.py) knows a closed vocabulary (colours, garments, fabrics, genders). Everything else
a model may invent is open-ended: product properties (waterproof, handmade, made in Italy), prices, discounts,
superlatives about the shop, links and domains (also spelled "evil dot shop"), contact and calls to action
("DM us", "order now"), other brands, and products no detector class covers (socks, scarves, jewellery: the
evidence never holds one). A claim is allowed only when the shop's title, brand or stated claims
contain the same words: the shop said it, not the model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from shared.schemas import ShopMetadata
from workers.language.claims import split_hashtag

Category = str  # property | price | discount | superlative | link | contact | brand | product


@dataclass(frozen=True)
class OpenClaim:
    category: Category
    surface: str

    def describe(self) -> str:
        return f"open:{self.category}:{self.surface}"


def _words(*phrases: str) -> str:
    """An alternation of phrases; a space inside a phrase matches any run of spaces or hyphens."""
    return "|".join(re.escape(p).replace(r"\ ", r"[\s-]*") for p in sorted(phrases, key=len, reverse=True))


_PROPERTY = _words(
    "waterproof", "water resistant", "water repellent", "windproof", "weatherproof", "breathable", "handmade",
    "hand made", "handcrafted", "hand crafted", "hand stitched", "hand knitted", "artisan", "artisanal", "organic",
    "sustainable", "sustainably", "eco", "eco friendly", "recycled", "upcycled", "vegan", "ethical", "ethically",
    "fair trade", "biodegradable", "hypoallergenic", "antibacterial", "anti bacterial", "wrinkle free",
    "crease resistant", "stain resistant", "uv protection", "certified", "limited edition", "one of a kind",
    "exclusive", "premium quality", "high quality", "top quality", "durable", "long lasting", "machine washable",
    "genuine", "authentic", "vintage", "designer", "locally made", "locally sourced", "luxury", "luxurious",
    "premium", "tailor", "tailors", "tailor made", "tailored by", "made by", "crafted by", "sewn by", "local maker",
    "craftsman", "craftsmen", "craftspeople", "seamstress",
)
_ORIGIN = r"made\s+in\s+(?:the\s+)?[a-z]+|(?:italian|french|portuguese|spanish|turkish|british|english|japanese|" \
          r"chinese|indian|american|german|swedish|danish|scottish|irish|peruvian)\s+(?:made|leather|wool|cotton|" \
          r"silk|linen|denim|craft\w*|tailor\w*|design\w*)"
_AMOUNT = r"\d+(?:[.,]\d+)?"
# sizes and weights no photo shows: "a length of 18 inches", "20 denier", "180 gsm"
_MEASURE = rf"{_AMOUNT}\s*(?:inch(?:es)?|in\.|\"|cm|mm|m|centimet(?:er|re)s?|millimet(?:er|re)s?|met(?:er|re)s?|" \
           r"feet|foot|ft|denier|oz|ounces?|grams?|g|kg|gsm|litres?|liters?|l)"
_PRICE = rf"[$€£¥₹]\s*{_AMOUNT}|{_AMOUNT}\s*(?:[$€£¥₹]|usd|eur|gbp|dollars?|euros?|pounds?|bucks|sek|kr)\b|" + _words(
    "price", "prices", "priced", "pricing", "cost", "costs", "affordable", "cheap", "cheapest", "bargain", "budget",
    "free shipping", "free delivery", "free returns", "only costs", "for just", "value for money",
)
_DISCOUNT = r"\d+\s*(?:%|percent|per\s+cent)|" + _words(
    "sale", "sales", "on sale", "discount", "discounts", "discounted", "deal", "deals", "promo", "promotion",
    "promo code", "coupon", "voucher", "clearance", "half price", "half off", "bogo", "buy one get one",
    "black friday", "cyber monday", "markdown", "reduced",
)
_SUPERLATIVE = r"#\s*1\b|no\.?\s*1\b|" + _words(
    "best", "bestseller", "bestsellers", "best seller", "best selling", "number one", "top rated", "award winning",
    "guaranteed", "guarantee", "lowest", "unbeatable", "unmatched", "world famous", "famous", "leading",
    "most popular", "five star", "5 star", "customers love", "loved by", "sold out", "selling fast",
)
_TLD = r"com|shop|store|net|org|io|co|uk|de|fr|it|es|eu|biz|info|online|site|xyz|app|me|ly|link|boutique|fashion"
_LINK = (
    r"https?\s*:|www\s*\.|\bwww\b|@\s*[a-z0-9_]{2,}|"
    rf"[a-z0-9-]+\s*(?:\.|\(\s*dot\s*\)|\[\s*dot\s*\]|\bdot\b)\s*(?:{_TLD})\b|"
    + _words("link in bio", "link in our bio", "url", "website", "web site", "online store", "our site")
)
_CONTACT = _words(
    "dm", "dms", "dm us", "direct message", "message us", "inbox us", "contact", "contact us", "call", "call us",
    "phone", "email", "e mail", "whatsapp", "text us", "visit", "visit us", "order", "orders", "order now",
    "ordering", "buy", "buy now", "purchase", "shop now", "shop the look", "add to cart", "checkout", "tap", "click",
    "swipe up", "follow us", "subscribe", "hurry", "limited time", "today only", "while stocks last",
    "in stock", "available now", "pre order", "preorder", "grab yours", "get yours", "comment below",
    "tag a friend", "giveaway",
)
_BRANDS = _words(
    "nike", "adidas", "puma", "reebok", "gucci", "prada", "chanel", "dior", "zara", "h&m", "uniqlo", "levis",
    "levi's", "louis vuitton", "vuitton", "hermes", "versace", "armani", "balenciaga", "burberry", "fendi",
    "givenchy", "valentino", "ysl", "saint laurent", "calvin klein", "tommy hilfiger", "ralph lauren", "lacoste",
    "converse", "vans", "new balance", "asics", "under armour", "north face", "patagonia", "mango", "primark",
    "shein", "asos", "ray ban", "rayban", "oakley", "michael kors", "kate spade", "supreme", "moncler", "hugo boss",
    "diesel", "benetton", "massimo dutti", "bershka", "pull&bear", "stradivarius", "everlane", "lululemon",
    "birkenstock", "dr martens", "timberland", "ugg", "crocs", "skechers", "fila", "carhartt", "stussy",
    "dickies", "wrangler", "hollister", "abercrombie", "jordan", "yeezy", "bottega", "celine", "loewe", "miu miu",
    "off white", "superdry", "topshop", "forever 21", "guess", "mulberry", "longchamp", "swarovski", "cartier",
    "rolex", "tiffany",
) + r"|[®™©]"

# products outside the detector's classes: a pack never states one, so only the shop can ("Socks and a shirt: a new
# favourite for the weekend.", written by the embedded LLM for a photo of a jumper on 30 Nov 2026). Not "tie" or
# "tights": "tie-dye" is a print, and H&M sells tights as leggings (trousers)
_PRODUCT = _words(
    "sock", "socks", "scarf", "scarves", "glove", "gloves", "mittens", "belt", "belts", "necktie", "neckties",
    "bow tie", "underwear", "lingerie", "bra", "bras", "briefs", "boxers", "panties", "knickers", "bikini",
    "bikinis", "swimsuit", "swimsuits", "swimwear", "jewellery", "jewelry", "earring", "earrings", "necklace",
    "necklaces", "bracelet", "bracelets", "stockings", "pyjamas", "pajamas", "wallet", "wallets", "umbrella",
    "umbrellas", "headband", "headbands",
    # not clothes at all ("A fabric-wrapped blanket: a warm treat", "Mirror of a beautiful shirt": 30 Nov 2026)
    "blanket", "blankets", "pillow", "pillows", "cushion", "cushions", "towel", "towels", "mirror", "mirrors",
    "candle", "candles", "rug", "rugs", "curtain", "curtains",
)

_PATTERNS: tuple[tuple[Category, re.Pattern[str]], ...] = tuple(
    (category, re.compile(rf"(?<![a-z0-9])(?:{pattern})(?![a-z0-9])", re.IGNORECASE))
    for category, pattern in (
        ("property", _PROPERTY), ("property", _ORIGIN), ("property", _MEASURE), ("price", _PRICE),
        ("discount", _DISCOUNT),
        ("superlative", _SUPERLATIVE), ("link", _LINK), ("contact", _CONTACT), ("brand", _BRANDS),
        ("product", _PRODUCT),
    )
)
# glued forms a hashtag splitter cannot see: #evildotshop, #linkinbio, #madeinitaly, #50off, #shopnow
_GLUED = re.compile(
    rf"dot(?:{_TLD})|linkin\w*bio|madein[a-z]+|\d+(?:off|percent|pct)|shopnow|buynow|ordernow|dmus|dmme|dmfor|"
    r"freeshipping|handmade|waterproof|organic|sustainab|ecofriendly|recycled|discount|giveaway|bestseller|"
    r"bestprice|onsale|^sale|sale$"
)
# "off white" is a colour unless a brand context says otherwise; the colour reading wins in our own text
_COLOUR_NOT_BRAND = frozenset({"off white", "offwhite", "off-white"})


def find(text: str) -> list[OpenClaim]:
    """Every open claim in `text`, in order of category."""
    lowered = text.lower().replace("’", "'")
    found: list[OpenClaim] = []
    for category, pattern in _PATTERNS:
        for match in pattern.finditer(lowered):
            surface = " ".join(match.group(0).split())
            if category == "brand" and surface in _COLOUR_NOT_BRAND:
                continue
            found.append(OpenClaim(category, surface))
    return found


def find_in_hashtag(tag: str) -> list[OpenClaim]:
    """Open claims in a hashtag, read both as the words it glues together and as written (#madeinitaly,
    #evildotshop, #50off)."""
    body = tag.lstrip("#").lower()
    spaced = " ".join(split_hashtag(body))
    claims = find(spaced) + find(body)
    claims += [OpenClaim("hashtag", match.group(0)) for match in _GLUED.finditer(body)]
    return list(dict.fromkeys(claims))


def shop_statements(meta: ShopMetadata | None) -> str:
    """The shop's own words about the product, normalised for phrase look-up."""
    if meta is None:
        return ""
    parts = [meta.title or "", meta.brand or "", *meta.claims, *meta.brand_hashtags]
    return _normalise(" ".join(parts))


def _normalise(text: str) -> str:
    return " " + " ".join(re.findall(r"[a-z0-9&%$€£]+", text.lower().replace("’", "'"))) + " "


def stated_by_shop(claim: OpenClaim, statements: str) -> bool:
    phrase = _normalise(claim.surface).strip()
    return bool(phrase) and (f" {phrase} " in statements or phrase.replace(" ", "") in statements.replace(" ", ""))


def unstated(text: str, meta: ShopMetadata | None, hashtag: bool = False) -> list[OpenClaim]:
    """The open claims in a caption (or one hashtag) that the shop's metadata does not state."""
    statements = shop_statements(meta)
    claims = find_in_hashtag(text) if hashtag else find(text)
    return [claim for claim in claims if not stated_by_shop(claim, statements)]
