"""Real Instagram hashtag frequencies from the HARRISON benchmark, as a small derived table we may commit.

`../shared/data/harrison/` holds the 997 most used tags (`vocab_index.txt`, frequency-ranked) and 57,383 posts'
tag lists (`tag_list.txt`). We commit only a derived table: per tag its rank, how many posts use it and how many
fashion posts (posts carrying one of FASHION_SEED_TAGS) use it. Regenerate with
`python -m workers.language.harrison ../shared/data/harrison`.
"""

from __future__ import annotations

import sys
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

TABLE_PATH = Path(__file__).resolve().parent / "data" / "harrison_tags.tsv"

FASHION_SEED_TAGS: frozenset[str] = frozenset(
    {
        "fashion", "style", "ootd", "outfit", "outfitoftheday", "instafashion", "fashionista", "streetstyle",
        "lookoftheday", "fashionblogger", "menswear", "mensfashion", "streetfashion", "lookbook", "clothes",
        "clothing", "instastyle", "fashionaddict", "fashionstyle",
    }
)

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


def derive_table(harrison_dir: Path) -> list[TagStats]:
    """Count each vocabulary tag over all posts and over fashion posts."""
    vocabulary = [line.split()[0] for line in (harrison_dir / "vocab_index.txt").read_text().splitlines() if line]
    posts: Counter[str] = Counter()
    fashion_posts: Counter[str] = Counter()
    with (harrison_dir / "tag_list.txt").open() as lines:
        for line in lines:
            tags = set(line.split())
            posts.update(tags)
            if tags & FASHION_SEED_TAGS:
                fashion_posts.update(tags)
    return [TagStats(tag, rank, posts[tag], fashion_posts[tag]) for rank, tag in enumerate(vocabulary)]


def write_table(rows: list[TagStats], path: Path = TABLE_PATH) -> None:
    lines = ["tag\trank\tposts\tfashion_posts"]
    lines += [f"{row.tag}\t{row.rank}\t{row.posts}\t{row.fashion_posts}" for row in rows]
    path.write_text("\n".join(lines) + "\n")


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


if __name__ == "__main__":
    source = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/harrison")
    table = derive_table(source)
    write_table(table)
    print(f"wrote {len(table)} tags to {TABLE_PATH}")
