"""The ONNX image tower at runtime: batched == one by one, unit norm, metadata, preprocessing."""

from __future__ import annotations

import numpy as np
import pytest

from pixels2posts.catalog.reader import CatalogItem
from shared.images import load_image
from workers.vision.embedder import ClipEmbedder, center_crop, letterbox


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


def test_given_crops_when_prepared_then_the_normalised_letterboxed_squares_to_the_last_bit(
        embedder: ClipEmbedder) -> None:
    # Given crops of every shape the pipeline cuts (tall, wide, tiny, a non-contiguous view of a photo)
    rng = np.random.default_rng(5)
    photo = rng.integers(0, 256, (600, 400, 3), dtype=np.uint8)
    crops = [photo[40:560, 90:300], photo[100:160, 0:400], photo[5:9, 7:10], photo, photo[::2, ::3]]
    # When prepared for the tower (resized and normalised straight into the batch)
    batch = embedder.prepare(crops)
    # Then exactly the uint8 square normalised by numpy, as the tower was trained and the gates picked
    scale, shift = embedder._normalisation
    for crop, planes in zip(crops, batch, strict=True):
        square = letterbox(crop, embedder.image_size, embedder._resize[1]).transpose(2, 0, 1)
        expected = np.multiply(square, scale, dtype=np.float32)
        expected += shift
        assert np.array_equal(planes, expected)


def test_given_a_centre_crop_tower_when_crops_are_prepared_then_numpys_normalised_centre_squares() -> None:
    # Given a tower exported with open_clip's centre crop (resize_mode "shortest"), read from its metadata
    embedder = ClipEmbedder()
    embedder.__dict__["_resize"] = (False, 255)
    photo = np.random.default_rng(6).integers(0, 256, (600, 400, 3), dtype=np.uint8)
    crops = [photo[40:560, 90:300], photo[100:160, 0:400], photo]
    # When prepared, Then each crop's centre square, normalised by numpy, to the last bit
    scale, shift = embedder._normalisation
    for crop, planes in zip(crops, embedder.prepare(crops), strict=True):
        expected = np.multiply(center_crop(crop, embedder.image_size).transpose(2, 0, 1), scale, dtype=np.float32)
        expected += shift
        assert np.array_equal(planes, expected)


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
