"""The learned colour namer: confident on plain garments, abstains when it disagrees with k-means, batch-independent;
and on held-out H&M product shots it beats the plain k-means naming and states colours at the precision it promises."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pixels2posts.evaluation.truth import colour_families
from shared.images import load_image
from shared.palette import PALETTE
from shared.settings import REPO_ROOT
from training.tower.data import hm_rows
from workers.vision.colour_model import ColourModel, agree, colour_features, read_colours_batch
from workers.vision.colours import cluster_batch, dominant_colours

BUNDLED = REPO_ROOT / "models" / "clip" / "colour.npz"


@pytest.fixture(scope="module")
def model() -> ColourModel:
    return ColourModel(BUNDLED)


def _garment_on(background: tuple[int, int, int], garment: tuple[int, int, int], size: int = 120) -> np.ndarray:
    crop = np.full((size, size, 3), background, np.uint8)
    crop[20:110, 25:95] = garment
    return crop


def test_the_bundled_model_is_small_and_names_only_palette_families(model: ColourModel) -> None:
    assert BUNDLED.stat().st_size < 1_000_000
    assert set(model.families) <= {c.family for c in PALETTE}
    assert 0.5 < model.threshold < 1.0


@pytest.mark.parametrize(("garment", "family"), [((28, 34, 68), "blue"), ((200, 30, 40), "red"),
                                                 ((20, 20, 22), "black"), ((245, 210, 45), "yellow"),
                                                 ((40, 140, 70), "green")])
def test_given_a_plain_garment_on_a_pale_background_then_its_family_is_stated(
        model: ColourModel, garment: tuple[int, int, int], family: str) -> None:
    """Every family is right; all but red are also stated (a flat saturated red sits between H&M's red, pink and
    orange products: 0.59 confidence, below the threshold, so it is named but not stated)."""
    reading = read_colours_batch(model, [_garment_on((236, 236, 236), garment)])[0]
    assert reading.family == family
    assert reading.confident == (family != "red")
    assert len(reading.colours) == 1 and reading.colours[0].share > 0.5


def _always(family: str, tmp_path: Path, model: ColourModel) -> ColourModel:
    """A hand-made model file that answers `family` with certainty whatever it sees."""
    classes = len(model.families)
    b2 = np.full(classes, -20.0, np.float32)
    b2[model.families.index(family)] = 20.0
    features = len(model.mean)
    path = tmp_path / f"always-{family}.npz"
    np.savez(path, mean=np.zeros(features, np.float32), scale=np.ones(features, np.float32),
             w1=np.zeros((features, 4), np.float32), b1=np.zeros(4, np.float32),
             w2=np.zeros((4, classes), np.float32), b2=b2, families=np.array(model.families),
             threshold=np.float32(0.5), version=np.array("always"))
    return ColourModel(path)


def test_given_a_confident_reading_that_k_means_contradicts_then_the_colour_is_not_stated(
        model: ColourModel, tmp_path: Path) -> None:
    crop = _garment_on((236, 236, 236), (28, 34, 68))          # k-means: navy
    wrong = read_colours_batch(_always("red", tmp_path, model), [crop])[0]
    assert wrong.confidence > 0.99 and wrong.family == "red"
    assert wrong.colours[0].name in ("red", "burgundy")          # named inside the family it answered
    assert not wrong.confident
    right = read_colours_batch(_always("blue", tmp_path, model), [crop])[0]
    assert right.confident and right.colours[0].name == "navy"


def test_agreement_is_by_the_caption_lexicon_families() -> None:
    assert agree("navy", "denim blue") and agree("charcoal", "black") and agree("cream", "white")
    assert not agree("light pink", "turquoise") and not agree("white", "silver") and not agree("red", None)


def test_given_a_crop_then_its_reading_does_not_depend_on_the_other_crops_of_its_batch(model: ColourModel) -> None:
    rng = np.random.default_rng(3)
    crops = [rng.integers(0, 255, (int(rng.integers(40, 200)), int(rng.integers(40, 200)), 3), dtype=np.uint8)
             for _ in range(5)]
    crops += [_garment_on((230, 230, 230), (30, 80, 170)), np.zeros((0, 10, 3), np.uint8)]
    alone = [read_colours_batch(model, [crop])[0] for crop in crops]
    assert read_colours_batch(model, crops) == alone
    assert read_colours_batch(model, crops[::-1]) == alone[::-1]
    assert alone[-1].family is None and not alone[-1].confident


def test_features_have_the_width_the_model_was_trained_on(model: ColourModel) -> None:
    features = colour_features(cluster_batch([_garment_on((236, 236, 236), (28, 34, 68))]))
    assert features.shape == (1, len(model.mean)) and np.isfinite(features).all()


def test_hm_test_products_named_better_than_k_means_and_stated_at_the_promised_precision(
        shared_dir: Path, model: ColourModel) -> None:
    """300 held-out H&M products (the runtime's product split): master-colour family accuracy of the MLP vs the
    plain k-means naming, and the truth metric's family-level precision of the colours it states."""
    import csv

    catalog = shared_dir / "data/hm-catalog"
    groups = {r["article_id"].zfill(10): r["colour_group_name"]
              for r in csv.DictReader((catalog / "articles.csv").open(newline="", encoding="utf-8"))}
    rows = [r for r in hm_rows(catalog) if r.split == "test" and r.colour][:300]
    crops = [load_image(r.path).rgb for r in rows]
    readings = read_colours_batch(model, crops)
    family_of = {c.name: c.family for c in PALETTE}
    plain = np.mean([family_of[dominant_colours(c)[0].name] == r.colour for c, r in zip(crops, rows, strict=True)])
    learned = np.mean([reading.family == r.colour for reading, r in zip(readings, rows, strict=True)])
    stated = [(reading.colours[0].name, groups[r.key]) for reading, r in zip(readings, rows, strict=True)
              if reading.confident and colour_families(groups[r.key])]
    precision = np.mean([bool(colour_families(name) & colour_families(group)) for name, group in stated])
    assert learned >= 0.72 and learned > plain + 0.05
    assert len(stated) >= 0.35 * len(rows)
    assert precision >= 0.92
