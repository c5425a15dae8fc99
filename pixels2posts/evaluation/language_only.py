"""Caption-quality evaluation: coverage, hashtag coverage, unsupported claims and which path published each result.

Language-only mode builds evidence packs from H&M catalogue labels (product type -> garment, colour group ->
colour, fabric word in the description, index group -> gender) for products of the product-level test split (the
same rule as training/clip/data.py), with other products' descriptions of the same type as style examples, as the
retrieval neighbours would give. With the vision stage installed, photos are run through it first.
"""

from __future__ import annotations

import csv
import hashlib
import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from pixels2posts.catalog.reader import split_of
from pixels2posts.evaluation.truth import CATEGORY_TO_GARMENT
from shared.schemas import Attribute, Attributes, CaptionResult, Colour, EvidencePack, Garment, ImageInfo
from shared.vocab import FABRICS, HM_INDEX_GROUP_TO_GENDER
from workers.language.pipeline import CaptionWriter

HASHTAG_COVERAGE_GOAL = 0.5

# H&M colour groups -> colour names as the palette would say them; None: no nameable colour
_HM_COLOUR_RENAMES: dict[str, str | None] = {
    "greenish khaki": "khaki", "yellowish brown": "camel", "greyish beige": "beige", "off white": "cream",
    "dark red": "burgundy", "bronze/copper": None, "transparent": None, "other": None,
}
_FABRIC_ORDER = ("denim", "lace", "leather", "satin", "chiffon", "velvet", "wool", "linen", "silk", "jersey",
                 "knit", "cotton", "viscose", "polyester")


def hm_colour(name: str) -> str | None:
    key = " ".join(name.lower().split())
    if key in _HM_COLOUR_RENAMES:
        return _HM_COLOUR_RENAMES[key]
    return key.removeprefix("other ") or None


def hm_fabric(text: str) -> str | None:
    words = set(text.lower().replace(",", " ").replace(".", " ").split())
    return next((fabric for fabric in _FABRIC_ORDER + FABRICS if fabric in words), None)


def _garment_rows(articles_csv: Path) -> list[dict[str, str]]:
    with articles_csv.open(newline="", encoding="utf-8") as handle:
        return [row for row in csv.DictReader(handle) if row["product_type_name"].lower() in CATEGORY_TO_GARMENT]


def _first_test_rows(rows: list[dict[str, str]], count: int) -> list[dict[str, str]]:
    test = sorted((row for row in rows if split_of(row["product_code"]) == "test"), key=lambda r: r["article_id"])
    return test[:count]


def hm_packs(articles_csv: Path, count: int) -> list[tuple[str, EvidencePack]]:
    """(article_id, pack) for the first `count` test-split garments, by article id."""
    rows = _garment_rows(articles_csv)
    examples: dict[str, list[str]] = {}
    for row in rows:
        if split_of(row["product_code"]) == "train" and row["detail_desc"]:
            examples.setdefault(row["product_type_name"], []).append(row["detail_desc"])
    return [(row["article_id"], _pack(row, examples.get(row["product_type_name"], [])[:3]))
            for row in _first_test_rows(rows, count)]


def hm_photos(catalog: Path, count: int) -> list[tuple[str, Path]]:
    """(article_id, product photo) for the same test-split garments as `hm_packs`, photos that exist only."""
    found = []
    for row in _first_test_rows(_garment_rows(catalog / "articles.csv"), count):
        photo = catalog / "images" / row["article_id"][:3] / f"{row['article_id']}.jpg"
        if photo.is_file():
            found.append((row["article_id"], photo))
    return found


def _pack(row: dict[str, str], style_examples: list[str]) -> EvidencePack:
    colour = hm_colour(row["colour_group_name"])
    gender = HM_INDEX_GROUP_TO_GENDER.get(row["index_group_name"])
    fabric = hm_fabric(f"{row['prod_name']} {row['detail_desc']}")
    return EvidencePack(
        image=ImageInfo(sha256=hashlib.sha256(row["article_id"].encode()).hexdigest(), width=320, height=320),
        garments=[Garment(label=CATEGORY_TO_GARMENT[row["product_type_name"].lower()], score=1.0, box=(0, 0, 320, 320),
                          colours=[Colour(name=colour, rgb=(0, 0, 0), share=1.0)] if colour else [])],
        attributes=Attributes(gender=Attribute(value=gender, confidence=1.0 if gender else 0.0),
                              fabric=Attribute(value=fabric, confidence=1.0 if fabric else 0.0)),
        style_examples=style_examples,
        models={"evidence": "hm-catalogue-labels"},
    )


@dataclass
class ItemScore:
    item: str
    attribute_coverage: float
    hashtag_coverage: float
    unsupported: int
    fallback: bool
    attempts: int
    seconds: float
    caption: str


@dataclass
class Summary:
    items: list[ItemScore] = field(default_factory=list)

    def add(self, item: str, result: CaptionResult, seconds: float) -> None:
        self.items.append(ItemScore(item, result.grounding.attribute_coverage, result.grounding.hashtag_coverage,
                                    len(result.grounding.unsupported), result.provenance.fallback,
                                    result.provenance.attempts, seconds, result.caption))

    def table(self) -> dict[str, float | int]:
        n = len(self.items) or 1
        llm = [i for i in self.items if not i.fallback]
        return {
            "items": len(self.items),
            "mean_attribute_coverage": round(statistics.fmean(i.attribute_coverage for i in self.items), 4)
            if self.items else 0.0,
            "share_hashtag_coverage_ge_0.5": round(
                sum(i.hashtag_coverage >= HASHTAG_COVERAGE_GOAL for i in self.items) / n, 4),
            "published_unsupported_claims": sum(i.unsupported for i in self.items),
            "published_by_llm_first_try": sum(i.attempts == 1 for i in llm),
            "published_by_llm_after_regeneration": sum(i.attempts > 1 for i in llm),
            "published_by_deterministic_fallback": sum(i.fallback for i in self.items),
            "mean_seconds_per_item": round(statistics.fmean(i.seconds for i in self.items), 3)
            if self.items else 0.0,
        }


def evaluate(writer: CaptionWriter, packs: Iterable[tuple[str, EvidencePack]],
             progress: Callable[[int, ItemScore], None] | None = None) -> Summary:
    summary = Summary()
    for index, (item, pack) in enumerate(packs, 1):
        started = time.perf_counter()
        result = writer.write(pack)
        summary.add(item, result, time.perf_counter() - started)
        if progress is not None:
            progress(index, summary.items[-1])
    return summary
