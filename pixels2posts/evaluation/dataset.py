"""Labelled evaluation sets in the catalogue schema, and the two test sets written from ../shared.

Schema (CSV header): id, image (path, relative to the file), title, description, gender, fabric, colour, category.
`description` is the reference text for lexical metrics; gender/fabric/colour/category are the truth. Title and
description are never given to the system under test: `EvalItem` carries them apart from the image.

- H&M test: products of the product-level test split (`pixels2posts.catalog.reader.split_of`, the split the product
  index and the CLIP/tower training leave out), garment types only; one article per product first, in hash order,
  so `--limit N` takes a spread of products and not N colour variants.
- clothing-photos test: the test contributors (`sender_id`) of the vision stage's garment-type tower
  (training/tower/data.py: sha1 of "p2p-tower-1:sender:<id>" below 0.3), so no test contributor was trained on;
  no reference text, gender "kids" or "adult" from the kids flag, category = the contributor's label.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pixels2posts.evaluation.truth import CATEGORY_TO_GARMENT, FABRIC_SEPARATOR, Truth, truth_of
from shared.errors import P2PError
from shared.vocab import HM_INDEX_GROUP_TO_GENDER

COLUMNS: tuple[str, ...] = ("id", "image", "title", "description", "gender", "fabric", "colour", "category")
CLOTHING_SPLIT_SEED = "p2p-tower-1"
CLOTHING_TEST_FRACTION = 0.3


class DatasetError(P2PError):
    code = "dataset_invalid"


@dataclass(frozen=True)
class EvalItem:
    id: str
    image: Path
    reference: str
    truth: Truth
    row: dict[str, str]


def read_dataset(path: Path) -> list[EvalItem]:
    """Every row of a catalogue-schema CSV; a missing column or image is an error that names it."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in ("id", "image") if c not in (reader.fieldnames or [])]
        if missing:
            raise DatasetError(f"{path}: missing column(s) {', '.join(missing)}; expected {', '.join(COLUMNS)}")
        rows = list(reader)
    items, absent = [], []
    for row in rows:
        image = Path(row["image"])
        image = image if image.is_absolute() else path.parent / image
        if not image.is_file():
            absent.append(str(image))
            continue
        truth = truth_of(row.get("category"), row.get("colour"), row.get("gender"), row.get("fabric"))
        items.append(EvalItem(row["id"], image, (row.get("description") or "").strip(), truth, row))
    if absent:
        raise DatasetError(f"{path}: {len(absent)} image(s) not found, e.g. {absent[0]}")
    return items


def _hash(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()


def hm_test_rows(catalog: Path) -> list[dict[str, str]]:
    from pixels2posts.catalog.reader import split_of

    return hm_rows(catalog, lambda product_code: split_of(product_code) == "test")


def hm_rows(catalog: Path, keep: Callable[[str], bool]) -> list[dict[str, str]]:
    """Evaluation rows of the H&M articles whose product code `keep` admits: garment types the truth metric scores,
    with a reference description; one article per product first, in hash order, so a limit takes distinct products."""
    from workers.vision.labels_text import fabrics_from_text

    chosen = []
    with (catalog / "articles.csv").open(newline="", encoding="utf-8") as handle:
        for r in csv.DictReader(handle):
            article = r["article_id"].zfill(10)
            image = catalog / "images" / article[:3] / f"{article}.jpg"
            if (not keep(r["product_code"]) or r["product_type_name"].lower() not in CATEGORY_TO_GARMENT
                    or not r["detail_desc"].strip() or not image.is_file()):
                continue
            chosen.append({
                "id": article, "image": str(image.resolve()), "title": r["prod_name"], "description": r["detail_desc"],
                "gender": HM_INDEX_GROUP_TO_GENDER.get(r["index_group_name"]) or "",
                "fabric": FABRIC_SEPARATOR.join(fabrics_from_text(f"{r['prod_name']} {r['detail_desc']}")),
                "colour": r["colour_group_name"], "category": r["product_type_name"], "_group": r["product_code"],
            })
    seen: dict[str, int] = {}
    ranked = []
    for row in sorted(chosen, key=lambda row: _hash(row["id"])):
        rank = seen[row["_group"]] = seen.get(row["_group"], -1) + 1
        ranked.append((rank, _hash(row["id"]), row))
    return [{k: v for k, v in row.items() if not k.startswith("_")} for _, _, row in sorted(ranked, key=_first2)]


def _first2(entry: tuple[int, str, dict[str, str]]) -> tuple[int, str]:
    return entry[0], entry[1]


def clothing_test_rows(folder: Path) -> list[dict[str, str]]:
    rows = []
    with (folder / "images.csv").open(newline="", encoding="utf-8") as handle:
        for r in csv.DictReader(handle):
            bucket = int(_hash(f"{CLOTHING_SPLIT_SEED}:sender:{r['sender_id']}")[:8], 16) / 0xFFFFFFFF
            image = folder / "images" / f"{r['image']}.jpg"
            if bucket >= CLOTHING_TEST_FRACTION or r["label"].lower() not in CATEGORY_TO_GARMENT or not image.is_file():
                continue
            rows.append({"id": r["image"], "image": str(image.resolve()), "title": "", "description": "",
                         "gender": "kids" if r["kids"].strip().lower() == "true" else "adult", "fabric": "",
                         "colour": "", "category": r["label"]})
    return sorted(rows, key=lambda row: _hash(row["id"]))


def write_csv(rows: list[dict[str, str]], out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(COLUMNS))
        writer.writeheader()
        writer.writerows(rows)
    return out


def write_test_sets(data: Path, out_dir: Path) -> dict[str, Path]:
    """hm-test.csv and clothing-test.csv from a ../shared/data folder into out_dir (not for committing)."""
    return {
        "hm": write_csv(hm_test_rows(data / "hm-catalog"), out_dir / "hm-test.csv"),
        "clothing": write_csv(clothing_test_rows(data / "clothing-photos"), out_dir / "clothing-test.csv"),
    }
