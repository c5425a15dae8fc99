"""The FAISS product index: exact search, metadata store, manifest, add without rebuild, HNSW past a size."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import pixels2posts.catalog.build as build_module
from pixels2posts.catalog.build import add_to_index, create_index
from pixels2posts.catalog.reader import CatalogItem
from workers.vision.index import ProductIndex, ProductIndexError


def _items(n: int, start: int = 0) -> list[CatalogItem]:
    return [CatalogItem(id=f"p{i}", image=f"/x/{i}.jpg", title=f"secret title {i}", description="verbatim text",
                        gender=("women", "men", "kids")[i % 3], fabric="denim" if i % 2 else None,
                        category="jeans", colour="blue", pattern="solid", group=f"g{i // 2}")
            for i in range(start, start + n)]


def _unit(n: int, dim: int = 32, seed: int = 0) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_given_a_built_index_when_reopened_then_exact_neighbours_and_labels(tmp_path: Path) -> None:
    vectors = _unit(50)
    create_index(tmp_path, vectors, _items(50), "clip-v1", source="unit")
    index = ProductIndex(tmp_path)
    scores, rows = index.search(vectors[[7, 21]], 3)
    assert rows[:, 0].tolist() == [7, 21]
    assert scores[:, 0] == pytest.approx([1.0, 1.0], abs=1e-5)
    expected = np.sort(vectors @ vectors[7])[::-1][:3]
    assert scores[0] == pytest.approx(expected, abs=1e-5)
    assert index.item(7) == {"id": "p7", "group": "g3", "gender": "men", "fabric": "denim", "category": "jeans",
                             "colour": "blue", "pattern": "solid"}
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["count"] == 50 and manifest["clip_version"] == "clip-v1" and manifest["kind"] == "IndexFlatIP"
    assert manifest["version"].startswith("idx-") and manifest["built_at"].endswith("Z")


def test_the_metadata_store_keeps_no_catalogue_text(tmp_path: Path) -> None:
    create_index(tmp_path, _unit(4), _items(4), "clip-v1")
    stored = "".join(p.read_text() for p in tmp_path.glob("*.json*"))
    assert "secret title" not in stored and "verbatim" not in stored and "/x/" not in stored


def test_add_extends_without_rebuild_and_changes_the_version(tmp_path: Path) -> None:
    first = create_index(tmp_path, _unit(10), _items(10), "clip-v1")
    old_version, built_at = first.version, first.manifest["built_at"]
    extra = _unit(5, seed=1)
    add_to_index(ProductIndex(tmp_path), extra, _items(5, start=10), "clip-v1")
    reopened = ProductIndex(tmp_path)
    assert reopened.count == 15 and reopened.version != old_version
    assert reopened.manifest["built_at"] == built_at
    _, rows = reopened.search(extra[[2]], 1)
    assert reopened.item(int(rows[0, 0]))["id"] == "p12"


def test_add_refuses_duplicates_and_other_clip_models(tmp_path: Path) -> None:
    create_index(tmp_path, _unit(4), _items(4), "clip-v1")
    index = ProductIndex(tmp_path)
    with pytest.raises(ProductIndexError, match="already in the index"):
        add_to_index(index, _unit(1), _items(1), "clip-v1")
    with pytest.raises(ProductIndexError, match="built with CLIP clip-v1"):
        add_to_index(index, _unit(1), _items(1, start=9), "clip-v2")
    assert ProductIndex(tmp_path).count == 4


def test_large_catalogues_get_an_hnsw_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(build_module, "HNSW_THRESHOLD", 100)
    vectors = _unit(300)
    index = create_index(tmp_path, vectors, _items(300), "clip-v1")
    assert index.manifest["kind"] == "IndexHNSWFlat"
    _, rows = ProductIndex(tmp_path).search(vectors[:20], 1)
    assert (rows[:, 0] == np.arange(20)).mean() >= 0.95


def test_missing_or_inconsistent_index_fails_loudly(tmp_path: Path) -> None:
    from shared.errors import ModelNotAvailableError

    with pytest.raises(ModelNotAvailableError):
        ProductIndex(tmp_path / "none").search(_unit(1), 1)
    create_index(tmp_path, _unit(4), _items(4), "clip-v1")
    (tmp_path / "items.jsonl").write_text((tmp_path / "items.jsonl").read_text().splitlines()[0] + "\n")
    with pytest.raises(ProductIndexError, match="4 vectors but 1 items"):
        _ = ProductIndex(tmp_path).count
