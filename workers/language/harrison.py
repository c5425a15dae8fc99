"""Real Instagram hashtag frequencies from the HARRISON benchmark: the small derived table we ship
(`data/harrison_tags.tsv`: per tag its rank, how many posts use it and how many fashion posts use it).

This module only reads it; `scripts/harrison_table.py` regenerates it offline from `../shared/data/harrison`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

TABLE_PATH = Path(__file__).resolve().parent / "data" / "harrison_tags.tsv"

# Tags a shop may publish on any fashion photo (no place, brand, celebrity or body word); attribute tags such as
# #mensfashion or #dress are offered too but pass the grounding check first.
GENERIC_FASHION_TAGS: frozenset[str] = frozenset(
    {
        "fashion", "style", "ootd", "outfit", "instafashion", "moda", "fashionista", "fashionblogger", "shopping",
        "look", "streetstyle", "clothes", "trend", "clothing", "shop", "stylish", "instastyle", "streetfashion",
        "lookbook", "fashionaddict", "outfitoftheday", "fashionstyle", "fashionable", "lookoftheday", "trendy",
        "chic", "fashiongram", "streetwear", "musthave", "mode", "fashiondiaries", "casual", "classy", "new",
        "onlineshop", "collection", "fashionblog", "menstyle", "mensfashion", "menswear", "woman", "lady", "men",
        "dress", "shoe", "sneaker", "bag", "shirt", "tshirt", "denim", "leather", "skirt", "jacket", "hat",
        "sunglass", "heel", "jean", "pant", "top", "accessory",
    }
)


@dataclass(frozen=True)
class TagStats:
    tag: str
    rank: int
    posts: int
    fashion_posts: int


@lru_cache(maxsize=1)
def load_table(path: Path = TABLE_PATH) -> dict[str, TagStats]:
    rows: dict[str, TagStats] = {}
    for line in path.read_text().splitlines()[1:]:
        tag, rank, posts, fashion_posts = line.split("\t")
        rows[tag] = TagStats(tag, int(rank), int(posts), int(fashion_posts))
    return rows


def popular_fashion_tags() -> list[TagStats]:
    """Generic fashion tags, most used in fashion posts first (ties: global rank)."""
    table = load_table()
    rows = [table[tag] for tag in GENERIC_FASHION_TAGS if tag in table]
    return sorted(rows, key=lambda row: (-row.fashion_posts, row.rank))


def known_tag_words() -> frozenset[str]:
    return frozenset(load_table())

