"""The two training sources as one table of rows (image path + labels + split), and image preprocessing.

H&M: split by product (workers' stable hash of product_code) into train/test; a calibration fold is carved out of
train by a second hash. clothing-photos: split by contributor (sender_id) with a fixed seed; never tuned on test.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from training.tower.labels import CLOTHING_PHOTOS_LABEL, HM_PRODUCT_TYPE
from workers.vision.embedder import letterbox

HM_GENDER = {"Ladieswear": "women", "Divided": "women", "Menswear": "men", "Baby/Children": "kids"}
CLOTHING_TEST_FRACTION = 0.3
CALIB_FRACTION = 0.15
SEED = "p2p-tower-1"


@dataclass(frozen=True)
class Row:
    source: str              # "hm" | "clothing"
    key: str                 # article id / image id
    path: str
    split: str               # train | calib | test
    garment: str | None
    gender: str | None
    fabric: str | None
    colour: str | None       # H&M perceived colour master (lower case)
    group: str               # product code / sender id
    section: str             # H&M section_name / "" (domain-shift experiments)
    raw_label: str           # product_type_name / clothing-photos label
    kids: bool


def _bucket(text: str) -> float:
    return int(hashlib.sha1(f"{SEED}:{text}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF


def hm_split(product_code: str) -> str:
    from pixels2posts.catalog.reader import split_of  # the runtime's product split, so the index never holds test items

    if split_of(product_code) == "test":
        return "test"
    return "calib" if _bucket(product_code) < CALIB_FRACTION else "train"


def hm_rows(folder: Path) -> list[Row]:
    from workers.vision.labels_text import fabric_from_text

    rows = []
    with (folder / "articles.csv").open(newline="", encoding="utf-8") as handle:
        for r in csv.DictReader(handle):
            aid = r["article_id"].zfill(10)
            path = folder / "images" / aid[:3] / f"{aid}.jpg"
            if not path.is_file():
                continue
            colour = (r.get("perceived_colour_master_name") or "").strip().lower() or None
            rows.append(Row("hm", aid, str(path), hm_split(r["product_code"]),
                            HM_PRODUCT_TYPE.get(r["product_type_name"]), HM_GENDER.get(r["index_group_name"]),
                            fabric_from_text(f"{r['prod_name']} {r.get('detail_desc') or ''}"),
                            None if colour in (None, "unknown", "undefined") else colour,
                            r["product_code"], r["section_name"], r["product_type_name"],
                            r["index_group_name"] == "Baby/Children"))
    return rows


def clothing_split(sender_id: str) -> str:
    bucket = _bucket(f"sender:{sender_id}")
    if bucket < CLOTHING_TEST_FRACTION:
        return "test"
    return "calib" if bucket < CLOTHING_TEST_FRACTION + CALIB_FRACTION else "train"


def clothing_rows(folder: Path) -> list[Row]:
    rows = []
    with (folder / "images.csv").open(newline="", encoding="utf-8") as handle:
        for r in csv.DictReader(handle):
            path = folder / "images" / f"{r['image']}.jpg"
            if not path.is_file():
                continue
            kids = r["kids"].strip().lower() == "true"
            rows.append(Row("clothing", r["image"], str(path), clothing_split(r["sender_id"]),
                            CLOTHING_PHOTOS_LABEL.get(r["label"]), None, None, None,
                            r["sender_id"], "", r["label"], kids))
    return rows


def load_square(path: str, size: int) -> np.ndarray:
    with Image.open(path) as image:
        return letterbox(np.asarray(image.convert("RGB")), size)
