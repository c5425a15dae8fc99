"""The ONNX image tower at runtime: batched == one by one, unit norm, metadata, preprocessing."""

from __future__ import annotations

import numpy as np
import pytest

from pixels2posts.catalog.reader import CatalogItem
from shared.images import load_image
from workers.vision.embedder import ClipEmbedder, letterbox


@pytest.fixture(scope="module")
def embedder() -> ClipEmbedder:
    return ClipEmbedder()


def test_letterbox_keeps_the_shape_and_pads_with_the_fill() -> None:
    tall = np.zeros((200, 100, 3), np.uint8)
    square = letterbox(tall, 96)
    assert square.shape == (96, 96, 3)
    assert (square[:, :20] == 255).all() and (square[:, 30:60] == 0).all()


def test_bundled_tower_declares_how_it_wants_its_input(embedder: ClipEmbedder) -> None:
    meta = embedder.meta
    assert meta["version"] and meta["model"]
    assert embedder.image_size == int(meta["image_size"]) and embedder.dim == int(meta["embed_dim"])
    assert embedder.image_model.session.get_inputs()[0].shape[0] == "batch"


def test_batched_embeddings_equal_one_by_one_and_are_unit_vectors(embedder: ClipEmbedder,
                                                                  catalogue_items: list[CatalogItem]) -> None:
    crops = [load_image(item.image).rgb for item in catalogue_items]
    batched = embedder.embed_images(crops, batch_size=8)
    single = np.concatenate([embedder.embed_images([crop]) for crop in crops])
    assert batched.shape == (len(crops), embedder.dim)
    np.testing.assert_allclose(batched, single, atol=1e-4)
    np.testing.assert_allclose(np.linalg.norm(batched, axis=1), 1.0, atol=1e-5)
    sims = batched @ batched.T
    assert (sims[~np.eye(len(crops), dtype=bool)] < 0.9999).all()


def test_an_empty_batch_is_an_empty_array(embedder: ClipEmbedder) -> None:
    assert embedder.embed_images([]).shape == (0, embedder.dim)


def test_the_bundled_tower_has_garment_gender_and_fabric_heads(embedder: ClipEmbedder,
                                                              catalogue_items: list[CatalogItem]) -> None:
    vocabularies = embedder.head_vocabularies
    assert set(vocabularies) == {"garment", "gender", "fabric"}
    assert set(embedder.head_thresholds) == {"gender", "fabric"}
    analysis = embedder.analyse_images([load_image(item.image).rgb for item in catalogue_items])
    np.testing.assert_allclose(analysis.embeddings, embedder.embed_images([load_image(i.image).rgb
                                                                           for i in catalogue_items]), atol=1e-5)
    for name, probs in analysis.heads.items():
        assert probs.shape == (len(catalogue_items), len(vocabularies[name]))
        np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-4)
