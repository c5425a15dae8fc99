"""Regenerate `workers/language/data/harrison_tags.tsv` from the HARRISON benchmark (offline; the workers only read
the table).

`../shared/data/harrison/` holds the 997 most used tags (`vocab_index.txt`, frequency-ranked) and 57,383 posts'
tag lists (`tag_list.txt`). We commit only a derived table: per tag its rank, how many posts use it and how many
fashion posts (posts carrying one of FASHION_SEED_TAGS) use it.

    python -m scripts.harrison_table ../shared/data/harrison
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

from workers.language.harrison import TABLE_PATH, TagStats

FASHION_SEED_TAGS: frozenset[str] = frozenset(
    {
        "fashion", "style", "ootd", "outfit", "outfitoftheday", "instafashion", "fashionista", "streetstyle",
        "lookoftheday", "fashionblogger", "menswear", "mensfashion", "streetfashion", "lookbook", "clothes",
        "clothing", "instastyle", "fashionaddict", "fashionstyle",
    }
)


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



if __name__ == "__main__":
    source = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/harrison")
    table = derive_table(source)
    write_table(table)
    print(f"wrote {len(table)} tags to {TABLE_PATH}")
