"""Catalogue ingestion: H&M articles, the generic CSV/JSONL schema, normalised labels."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pixels2posts.catalog.reader import CatalogError, read_catalog, split_of
from workers.vision.labels_text import fabric_from_text, normalise_gender


@pytest.mark.parametrize(("text", "fabric"), [
    ("5-pocket jeans in washed cotton denim", "denim"),
    ("Top in soft cotton jersey with a round neckline", "jersey"),
    ("Jumper in a soft, fine knit containing some wool", "wool"),
    ("Fitted dress in ribbed jersey", "jersey"),
    ("Cardigan in a loose, ribbed knit", "knit"),
    ("Blouse in woven fabric with buttons", None),
    ("Skirt with sequins", "sequin"),
])
def test_the_most_specific_fabric_word_wins(text: str, fabric: str | None) -> None:
    assert fabric_from_text(text) == fabric


def test_genders_are_normalised_to_our_vocabulary() -> None:
    assert [normalise_gender(v) for v in ("Women", "Menswear", "Baby/Children", "Ladieswear", "Sport", "", None)] \
        == ["women", "men", "kids", "women", None, None, None]


def test_split_is_stable_and_product_level() -> None:
    assert split_of("0108775") == split_of("0108775")
    share = sum(split_of(str(n)) == "test" for n in range(4000)) / 4000
    assert 0.12 < share < 0.18


def test_generic_jsonl_resolves_relative_images_and_normalises(tmp_path: Path) -> None:
    (tmp_path / "a.jpg").write_bytes(b"x")
    lines = [{"id": "p1", "image": "a.jpg", "title": "Linen shirt", "gender": "Men", "colour": "Navy"},
             {"id": "p2", "image": "https://example.com/b.jpg", "fabric": "Organic cotton", "gender": "unisex"}]
    path = tmp_path / "catalog.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines))
    first, second = read_catalog(path)
    assert first.image == str(tmp_path / "a.jpg") and first.fabric == "linen" and first.gender == "men"
    assert first.labels() == {"gender": "men", "fabric": "linen", "category": None, "colour": "navy",
                              "pattern": None}
    assert second.image.startswith("https://") and second.fabric == "cotton" and second.gender is None


def test_generic_csv_reads_the_documented_columns(tmp_path: Path) -> None:
    path = tmp_path / "catalog.csv"
    path.write_text("id,image,title,description,gender,fabric,category,colour,pattern\n"
                    "s1,/img/1.jpg,Tee,Soft jersey tee,women,,T-shirt,White,Solid\n")
    (item,) = read_catalog(path)
    assert (item.fabric, item.category, item.pattern, item.group) == ("jersey", "t-shirt", "solid", "s1")


@pytest.mark.parametrize(("content", "message"), [
    ('{"id": "x"}\n', "'id' and 'image' are required"),
    ('{"id": "x", "image": "a.jpg"}\n{"id": "x", "image": "b.jpg"}\n', "duplicate ids"),
    ("not json\n", "not JSON"),
])
def test_bad_catalogues_are_refused_with_a_clear_error(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    with pytest.raises(CatalogError, match=message):
        read_catalog(path)


def test_unknown_format_and_missing_file_are_refused(tmp_path: Path) -> None:
    (tmp_path / "c.xml").write_text("<x/>")
    with pytest.raises(CatalogError, match="unknown catalogue format"):
        read_catalog(tmp_path / "c.xml")
    with pytest.raises(CatalogError, match="not found"):
        read_catalog(tmp_path / "missing.csv")


def test_hm_catalogue_reads_every_article_with_labels(shared_dir: Path) -> None:
    items = read_catalog(shared_dir / "data/hm-catalog")
    assert len(items) == 11_800
    assert {i.gender for i in items} == {"women", "men", "kids", None}
    with_fabric = sum(i.fabric is not None for i in items) / len(items)
    assert 0.6 < with_fabric < 0.85
    assert all(Path(i.image).is_file() for i in items[:50])
