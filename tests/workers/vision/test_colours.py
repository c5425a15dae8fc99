"""Dominant colours: foreground, skin exclusion, k-means in CIELAB, naming; and H&M product shots."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pixels2posts.catalog.reader import read_hm_articles, split_of
from shared.images import load_image
from shared.palette import FAMILY_OF
from workers.vision.colours import dominant_colours, dominant_colours_batch, skin_mask

SKIN = (224, 172, 140)


def _garment_on(background: tuple[int, int, int], garment: tuple[int, int, int], size: int = 120) -> np.ndarray:
    crop = np.full((size, size, 3), background, np.uint8)
    crop[20:110, 25:95] = garment
    return crop


def test_given_navy_garment_on_grey_background_when_named_then_navy_wins_and_background_is_absent() -> None:
    colours = dominant_colours(_garment_on((200, 200, 200), (28, 34, 68)))
    assert colours[0].name == "navy"
    assert colours[0].share > 0.9
    assert "light grey" not in [c.name for c in colours]


def test_given_arms_and_face_beside_a_red_top_then_skin_does_not_win() -> None:
    crop = _garment_on((245, 245, 245), (200, 30, 40))
    crop[0:60, 0:25] = SKIN       # an arm, touching the border
    crop[30:70, 40:80] = SKIN     # a face inside the box
    colours = dominant_colours(crop)
    assert colours[0].name == "red"
    assert all(c.name not in ("beige", "camel", "coral", "pink") for c in colours)


def test_given_a_beige_garment_then_its_skin_like_pixels_are_kept() -> None:
    colours = dominant_colours(_garment_on((40, 40, 40), (214, 190, 160)))
    assert colours and colours[0].name in ("beige", "camel", "cream")


def test_given_white_on_white_then_the_garment_still_reads_white() -> None:
    crop = _garment_on((252, 252, 252), (240, 240, 238))
    assert dominant_colours(crop)[0].name == "white"


def test_given_two_coloured_garment_then_both_colours_with_shares() -> None:
    crop = _garment_on((230, 230, 230), (30, 80, 170))
    crop[65:110, 25:95] = (245, 210, 45)
    names = {c.name: c.share for c in dominant_colours(crop)}
    assert set(names) == {"blue", "yellow"}
    assert abs(names["blue"] - names["yellow"]) < 0.25
    assert sum(names.values()) <= 1.0001


def test_skin_mask_accepts_skin_tones_and_rejects_garment_colours() -> None:
    pixels = np.array([[SKIN, (141, 85, 36), (30, 30, 30), (40, 80, 170), (60, 140, 60)]], np.uint8)
    assert skin_mask(pixels).tolist() == [[True, True, False, False, False]]


def test_hm_product_shots_are_named_in_their_master_colour_family(shared_dir: Path) -> None:
    """The first 60 held-out catalogue shots with a master colour: well above chance (0.28 = always black)."""
    items = [i for i in read_hm_articles(shared_dir / "data/hm-catalog")
             if split_of(i.group) == "test" and i.colour is not None][:60]
    hits = [FAMILY_OF[dominant_colours(load_image(i.image).rgb)[0].name] == i.colour for i in items]
    assert len(hits) == 60
    assert np.mean(hits) >= 0.55


def test_person_mask_from_deeplab_covers_the_people_not_the_crowd(shared_dir: Path,
                                                                  sample_photos: dict[str, Path]) -> None:
    from workers.vision.colours import PersonMasker

    masker = PersonMasker(shared_dir / "weights/deeplabv3-mnv2-pascal-int8.tflite")
    image = load_image(sample_photos["zidane"])
    mask = masker(image.rgb)
    assert mask.shape == image.rgb.shape[:2]
    assert mask[400:700, 200:600].mean() > 0.9      # Zidane's jacket
    assert mask[50:150, 50:300].mean() < 0.1        # blurred stadium background
    jacket = dominant_colours(image.rgb[320:720, 140:680], mask[320:720, 140:680])
    assert jacket[0].name in ("black", "charcoal")


def test_given_a_crop_then_its_colours_do_not_depend_on_the_other_crops_of_its_batch() -> None:
    rng = np.random.default_rng(3)
    crops = [rng.integers(0, 255, (int(rng.integers(40, 200)), int(rng.integers(40, 200)), 3), dtype=np.uint8)
             for _ in range(5)]
    crops.append(_garment_on((230, 230, 230), (30, 80, 170)))
    alone = [dominant_colours(crop) for crop in crops]
    assert dominant_colours_batch(crops) == alone
    assert dominant_colours_batch(crops[::-1]) == alone[::-1]
