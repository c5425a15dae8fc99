"""`pixels2posts index build | add | info` on real product images with the real ONNX embedder and FAISS."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from click.testing import CliRunner

from pixels2posts.catalog.reader import CatalogItem
from pixels2posts.cli import cli
from shared.images import load_image
from shared.schemas import Attribute, EvidencePack
from workers.vision.embedder import ClipEmbedder
from workers.vision.index import ProductIndex


def _jsonl(path: Path, items: list[CatalogItem]) -> Path:
    rows = [{"id": i.id, "image": i.image, "title": i.title, "description": i.description, "gender": i.gender,
             "category": i.category, "colour": i.colour, "pattern": i.pattern} for i in items]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_given_a_generic_catalogue_when_built_and_extended_then_products_find_themselves(
        tmp_path: Path, catalogue_items: list[CatalogItem]) -> None:
    runner = CliRunner()
    folder = tmp_path / "index"
    first, rest = catalogue_items[:6], catalogue_items[6:]
    built = runner.invoke(cli, ["index", "build", str(_jsonl(tmp_path / "a.jsonl", first)), "--out", str(folder)])
    assert built.exit_code == 0, built.output
    assert "built" in built.output and "6 products" in built.output

    added = runner.invoke(cli, ["index", "add", str(_jsonl(tmp_path / "b.jsonl", rest)), "--index-dir", str(folder)])
    assert added.exit_code == 0, added.output
    assert f"{len(catalogue_items)} in all" in added.output

    info = runner.invoke(cli, ["index", "info", "--index-dir", str(folder), "--json"])
    report = json.loads(info.output)
    assert report["manifest"]["count"] == len(catalogue_items)
    assert report["manifest"]["clip_version"] == ClipEmbedder().version
    assert dict(report["labels"]["gender"]) == {"women": 3, "men": 3, "kids": 2}

    index = ProductIndex(folder)
    vectors = ClipEmbedder().embed_images([load_image(i.image).rgb for i in catalogue_items])
    scores, rows = index.search(vectors, 1)
    assert [index.item(int(r))["id"] for r in rows[:, 0]] == [i.id for i in catalogue_items]
    assert np.allclose(scores[:, 0], 1.0, atol=1e-4)


def test_unreadable_product_images_are_skipped_and_reported(tmp_path: Path, catalogue_items: list[CatalogItem]) -> None:
    catalogue = _jsonl(tmp_path / "c.jsonl", catalogue_items[:2])
    (tmp_path / "broken.jpg").write_bytes(b"not an image")
    with catalogue.open("a") as handle:
        handle.write(json.dumps({"id": "broken", "image": "broken.jpg"}) + "\n")
    result = CliRunner().invoke(cli, ["index", "build", str(catalogue), "--out", str(tmp_path / "idx")])
    assert result.exit_code == 0, result.output
    assert "2 products (1 skipped)" in result.output
    assert "skipped broken:" in result.output


def test_bundled_demo_index_holds_train_products_only() -> None:
    from pixels2posts.catalog.reader import split_of

    index = ProductIndex(Path(__file__).resolve().parents[3] / "models/index")
    assert "split=train" in index.manifest["source"]
    assert index.manifest["clip_version"] == ClipEmbedder().version
    assert all(split_of(index.item(r)["group"]) == "train" for r in range(0, index.count, 97))
    assert set(index.manifest["calibration"]) == {"gender", "fabric"}


def test_given_a_catalogue_that_labels_kids_only_when_built_then_it_warns_that_the_vote_can_say_nothing_else(
        tmp_path: Path, catalogue_items: list[CatalogItem]) -> None:
    # Given products of which only the kids' carry a gender (adults left blank)
    items = [item if item.gender == "kids" else CatalogItem(**{**item.__dict__, "gender": None})
             for item in catalogue_items]

    # When the index is built
    result = CliRunner().invoke(cli, ["index", "build", str(_jsonl(tmp_path / "k.jsonl", items)),
                                      "--out", str(tmp_path / "idx")])

    # Then it is built, with a warning naming the attribute; a fully labelled catalogue gets none
    assert result.exit_code == 0, result.output
    assert "warning: gender: 2 of 8 products have one and all say 'kids'" in result.output
    full = CliRunner().invoke(cli, ["index", "build", str(_jsonl(tmp_path / "f.jsonl", catalogue_items)),
                                    "--out", str(tmp_path / "idx2")])
    assert full.exit_code == 0 and "warning: gender" not in full.output


def test_given_a_shop_index_when_a_photo_comes_with_its_sku_then_its_catalogue_row_is_evidence(
        tmp_path: Path, catalogue_items: list[CatalogItem]) -> None:
    # Given the shop's own index built from its catalogue (the made-up catalogue's fourth product is a men's one)
    folder = tmp_path / "index"
    built = CliRunner().invoke(cli, ["index", "build", str(_jsonl(tmp_path / "shop.jsonl", catalogue_items)),
                                     "--out", str(folder)])
    assert built.exit_code == 0, built.output
    product = catalogue_items[3]
    assert product.gender == "men"

    # When its photo is analysed with its SKU, against the shop's index and against the bundled one
    bundled_note: list[str] = []

    def pack_with(env: dict[str, str]) -> EvidencePack:
        done = subprocess.run([sys.executable, "-m", "pixels2posts", "evidence", product.image, "--sku", product.id,
                               "--json"],
                              env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        bundled_note.append(done.stderr)
        return EvidencePack.model_validate_json(done.stdout.splitlines()[0])

    base = {k: v for k, v in os.environ.items() if k not in ("P2P_INDEX_DIR", "P2P_INDEX_TENANT")}
    own = pack_with({**base, "P2P_INDEX_DIR": str(folder)})
    bound = pack_with({**base, "P2P_INDEX_DIR": str(folder), "P2P_INDEX_TENANT": "shop-a"})
    bundled_note.clear()
    bundled = pack_with(base)

    # Then the shop's catalogue states the gender, marked as its own (also where the index is bound to a tenant:
    # the command runs as the index's owner); the bundled index lends no SKU a row
    assert own.attributes.gender == Attribute(value="men", confidence=1.0, source="shop_catalogue")
    assert bound.attributes.gender == own.attributes.gender
    assert bundled.attributes.gender.source != "shop_catalogue"
    assert "P2P_INDEX_DIR is not set" in bundled_note[0]
