"""The backdrop signal: a packshot on a light backdrop is 'studio', a photo taken anywhere else is 'scene'."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from shared.images import load_image
from workers.vision.backdrop import backdrop_of, light_border_share

CLOTHING = Path(__file__).parents[2] / "data" / "clothing-photos"


def _packshot(background: int = 245, side: int = 400) -> np.ndarray:
    image = np.full((side, int(side * 1.5), 3), background, dtype=np.uint8)
    image[60:340, 120:480] = (30, 40, 120)  # the product, clear of the border
    return image


def test_given_a_product_on_white_then_it_is_a_studio_photo() -> None:
    assert light_border_share(_packshot()) == 1.0
    assert backdrop_of(_packshot()) == "studio"
    assert backdrop_of(_packshot(background=215)) == "studio"  # a light grey studio sweep


def test_given_a_product_on_a_dark_or_busy_background_then_it_is_a_scene_photo() -> None:
    assert backdrop_of(_packshot(background=90)) == "scene"
    noisy = np.random.default_rng(0).integers(0, 256, size=(300, 300, 3), dtype=np.uint8)
    assert light_border_share(noisy) < 0.2 and backdrop_of(noisy) == "scene"


def test_given_a_garment_that_runs_into_the_frame_then_the_share_counts_the_covered_border() -> None:
    # Given a white packshot whose product covers the whole left edge (a quarter of the border)
    image = _packshot()
    image[:, :40] = (20, 20, 20)
    share = light_border_share(image)
    # Then about three quarters of the border is light: not a studio backdrop by the 0.9 rule
    assert 0.6 < share < 0.85 and backdrop_of(image) == "scene"


@pytest.mark.parametrize("side", [1, 3, 12])
def test_given_a_tiny_image_then_its_border_is_still_read(side: int) -> None:
    assert light_border_share(np.full((side, side, 3), 255, dtype=np.uint8)) == 1.0
    assert light_border_share(np.zeros((side, side, 3), dtype=np.uint8)) == 0.0


def test_given_the_bundled_amateur_photos_then_they_are_scene_photos() -> None:
    photos = sorted(p for p in CLOTHING.rglob("*") if p.suffix.lower() in {".jpg", ".jpeg", ".png"})[:12]
    assert photos
    kinds = [backdrop_of(load_image(photo).rgb) for photo in photos]
    assert kinds.count("scene") >= len(kinds) - 1
