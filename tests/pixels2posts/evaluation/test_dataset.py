"""The test sets written from ../shared: held out by product / contributor, truth columns filled, bad files refused."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from pixels2posts.catalog.reader import split_of
from pixels2posts.evaluation.dataset import (
    DatasetError,
    clothing_test_rows,
    hm_test_rows,
    read_dataset,
    write_csv,
)


def test_given_the_hm_catalogue_then_only_test_split_products_of_garment_types_are_written(shared_dir: Path) -> None:
    rows = hm_test_rows(shared_dir / "data" / "hm-catalog")
    assert len(rows) > 500
    with (shared_dir / "data" / "hm-catalog" / "articles.csv").open(newline="", encoding="utf-8") as handle:
        product = {r["article_id"].zfill(10): r["product_code"] for r in csv.DictReader(handle)}
    assert all(split_of(product[row["id"]]) == "test" for row in rows)
    assert all(row["description"] and row["category"] and row["colour"] for row in rows)
    first = rows[:60]
    assert len({product[row["id"]] for row in first}) == 60  # one article per product first
    assert sum(bool(row["fabric"]) for row in rows) > len(rows) // 2


def test_given_clothing_photos_then_test_contributors_never_appear_in_the_rest(shared_dir: Path) -> None:
    folder = shared_dir / "data" / "clothing-photos"
    rows = clothing_test_rows(folder)
    with (folder / "images.csv").open(newline="", encoding="utf-8") as handle:
        sender = {r["image"]: r["sender_id"] for r in csv.DictReader(handle)}
    test_senders = {sender[row["id"]] for row in rows}
    others = {s for image, s in sender.items() if s not in test_senders}
    assert 20 < len(test_senders) < 100 and others
    assert all(row["gender"] in ("kids", "adult") and not row["description"] for row in rows)


def test_given_a_written_csv_then_it_reads_back_with_truth(tmp_path: Path, shared_dir: Path) -> None:
    rows = hm_test_rows(shared_dir / "data" / "hm-catalog")[:3]
    items = read_dataset(write_csv(rows, tmp_path / "t.csv"))
    assert [i.id for i in items] == [r["id"] for r in rows]
    assert all("garment" in i.truth.values and i.reference for i in items)


def test_given_a_csv_without_an_image_column_then_the_error_names_it(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("id,title\n1,shirt\n")
    with pytest.raises(DatasetError, match="image"):
        read_dataset(path)


def test_given_a_missing_image_then_the_error_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("id,image,category\n1,nowhere.jpg,Dress\n")
    with pytest.raises(DatasetError, match=r"nowhere\.jpg"):
        read_dataset(path)
