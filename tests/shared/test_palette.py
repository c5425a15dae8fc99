"""Palette and CIEDE2000 naming."""

from __future__ import annotations

import numpy as np
import pytest

from shared.palette import COLOUR_NAMES, PALETTE, ciede2000, lab_to_rgb, name_lab, name_rgb, rgb_to_lab

# Sharma, Wu, Dalal (2005) CIEDE2000 test data: (Lab1, Lab2, dE00)
SHARMA_PAIRS = [
    ((50.0, 2.6772, -79.7751), (50.0, 0.0, -82.7485), 2.0425),
    ((50.0, -1.3802, -84.2814), (50.0, 0.0, -82.7485), 1.0000),
    ((50.0, 2.5, 0.0), (73.0, 25.0, -18.0), 27.1492),
    ((50.0, 2.5, 0.0), (50.0, 3.2592, 0.3350), 1.0000),
    ((60.2574, -34.0099, 36.2677), (60.4626, -34.1751, 39.4387), 1.2644),
    ((90.8027, -2.0831, 1.4410), (91.1528, -1.6435, 0.0447), 1.4441),
    ((2.0776, 0.0795, -1.1350), (0.9033, -0.0636, -0.5514), 0.9082),
]


@pytest.mark.parametrize(("lab1", "lab2", "expected"), SHARMA_PAIRS)
def test_ciede2000_matches_published_reference_pairs(lab1, lab2, expected) -> None:
    assert ciede2000(np.array(lab1), np.array(lab2)) == pytest.approx(expected, abs=1e-4)
    assert ciede2000(np.array(lab2), np.array(lab1)) == pytest.approx(expected, abs=1e-4)


def test_palette_is_a_curated_fashion_palette_of_unique_names() -> None:
    assert 20 <= len(PALETTE) <= 40
    assert len(set(COLOUR_NAMES)) == len(COLOUR_NAMES)
    for name in ("black", "white", "grey", "navy", "beige", "olive", "burgundy", "camel", "khaki"):
        assert name in COLOUR_NAMES


def test_every_palette_colour_is_named_as_itself() -> None:
    assert [name_rgb(c.rgb) for c in PALETTE] == list(COLOUR_NAMES)


def test_lab_round_trip_is_within_one_level() -> None:
    rgb = np.random.default_rng(0).integers(0, 256, (500, 3))
    back = lab_to_rgb(rgb_to_lab(rgb)).astype(int)
    assert np.abs(back - rgb).max() <= 1


def test_near_colours_get_the_expected_names() -> None:
    given = np.array([(10, 10, 12), (250, 250, 250), (25, 30, 70), (120, 20, 40), (95, 100, 50), (205, 0, 20)])
    assert name_lab(rgb_to_lab(given)) == ["black", "white", "navy", "burgundy", "olive", "red"]
