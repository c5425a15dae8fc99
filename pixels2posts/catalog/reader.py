"""Product catalogues: read H&M `articles.csv` or a generic CSV/JSONL file into normalised `CatalogItem`s.

Generic schema (CSV header or JSONL keys; only `id` and `image` are required):
    id, image (local path, relative to the file, or http(s) URL), title, description,
    gender (women|men|kids|...), fabric, category, colour, pattern, group (variants of one product share it)
Attributes are normalised to our vocabularies: gender to shared.vocab.GENDERS, fabric to shared.vocab.FABRICS
(from the `fabric` field, else from words in the title/description). Unknown values become None.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from shared.errors import P2PError
from shared.vocab import HM_INDEX_GROUP_TO_GENDER
from workers.vision.labels_text import fabric_from_text, normalise_gender

TEST_FRACTION = 0.15


def split_of(group: str) -> str:
    """A stable product-level train/test split: colour variants of one product (group) land on the same side."""
    bucket = int(hashlib.sha1(group.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "test" if bucket < TEST_FRACTION else "train"


class CatalogError(P2PError):
    code = "catalog_invalid"


@dataclass(frozen=True)
class CatalogItem:
    id: str
    image: str
    title: str = ""
    description: str = ""
    gender: str | None = None
    fabric: str | None = None
    category: str | None = None
    colour: str | None = None
    pattern: str | None = None
    group: str = ""

    def labels(self) -> dict[str, str | None]:
        """The normalised labels the index stores (never the title or description text)."""
        row = asdict(self)
        return {k: row[k] for k in ("gender", "fabric", "category", "colour", "pattern")}


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    value = " ".join(str(value).split()).lower()
    return None if value in ("", "unknown", "undefined", "none", "nan") else value


def read_hm_articles(catalog_dir: Path) -> list[CatalogItem]:
    """H&M `articles.csv` + `images/<first 3 digits>/<article_id>.jpg`; rows whose image is missing are skipped."""
    csv_path = catalog_dir / "articles.csv"
    if not csv_path.is_file():
        raise CatalogError(f"no articles.csv in {catalog_dir}")
    items = []
    with csv_path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            article_id = row["article_id"].zfill(10)
            image = catalog_dir / "images" / article_id[:3] / f"{article_id}.jpg"
            if not image.is_file():
                continue
            description = row.get("detail_desc") or ""
            items.append(CatalogItem(
                id=article_id,
                image=str(image),
                title=row.get("prod_name", ""),
                description=description,
                gender=HM_INDEX_GROUP_TO_GENDER.get(row.get("index_group_name", "")),
                fabric=fabric_from_text(f"{row.get('prod_name', '')} {description}"),
                category=_clean(row.get("product_type_name")),
                colour=_clean(row.get("perceived_colour_master_name")),
                pattern=_clean(row.get("graphical_appearance_name")),
                group=row.get("product_code", article_id),
            ))
    return items


def _generic_item(record: dict[str, str], base: Path, line: int) -> CatalogItem:
    item_id = str(record.get("id") or "").strip()
    image = str(record.get("image") or "").strip()
    if not item_id or not image:
        raise CatalogError(f"record {line}: 'id' and 'image' are required")
    if not image.startswith(("http://", "https://")) and not Path(image).is_absolute():
        image = str(base / image)
    title, description = str(record.get("title") or ""), str(record.get("description") or "")
    fabric_field = _clean(record.get("fabric"))
    fabric = fabric_from_text(fabric_field) if fabric_field else fabric_from_text(f"{title} {description}")
    return CatalogItem(
        id=item_id, image=image, title=title, description=description,
        gender=normalise_gender(record.get("gender")), fabric=fabric,
        category=_clean(record.get("category")), colour=_clean(record.get("colour")),
        pattern=_clean(record.get("pattern")), group=str(record.get("group") or item_id),
    )


def _records(path: Path) -> Iterator[dict[str, str]]:
    if path.suffix.lower() == ".jsonl":
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                if line.strip():
                    try:
                        yield json.loads(line)
                    except json.JSONDecodeError as exc:
                        raise CatalogError(f"{path}:{number}: not JSON ({exc.msg})") from exc
    elif path.suffix.lower() == ".csv":
        with path.open(newline="", encoding="utf-8") as handle:
            yield from csv.DictReader(handle)
    else:
        raise CatalogError(f"unknown catalogue format {path.suffix!r}: use .csv or .jsonl")


def read_catalog(source: Path) -> list[CatalogItem]:
    """An H&M catalogue folder (with articles.csv) or a generic .csv/.jsonl file."""
    if source.is_dir():
        return read_hm_articles(source)
    if not source.is_file():
        raise CatalogError(f"catalogue not found: {source}")
    items = [_generic_item(record, source.parent, n) for n, record in enumerate(_records(source), 1)]
    ids = [item.id for item in items]
    if len(set(ids)) != len(ids):
        raise CatalogError(f"{source}: duplicate ids")
    return items
