"""Dominant colours: foreground, skin exclusion, k-means in CIELAB, naming; and H&M product shots."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pixels2posts.catalog.reader import read_hm_articles, split_of
from shared.images import load_image
from shared.palette import FAMILY_OF
from workers.vision import colours
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


def _border_background_by_full_count(lab: np.ndarray, frame: np.ndarray) -> np.ndarray:
    """The reference: every crop's N x _BIN_CODES bin counts, its BORDER_COLOURS largest by argpartition."""
    n, p = frame.shape
    bins = np.round(lab / colours._BIN).astype(np.int32)
    span_ab = colours._BIN_SPAN_AB
    codes = ((bins[..., 0].clip(0, colours._BIN_SPAN_L - 1) * span_ab
              + (bins[..., 1] + colours._BIN_OFFSET).clip(0, span_ab - 1)) * span_ab
             + (bins[..., 2] + colours._BIN_OFFSET).clip(0, span_ab - 1))
    keys = codes + (np.arange(n) * colours._BIN_CODES)[:, None]
    counts = np.bincount(keys[frame], minlength=n * colours._BIN_CODES).reshape(n, colours._BIN_CODES)
    top = np.argpartition(-counts, colours.BORDER_COLOURS, axis=1)[:, :colours.BORDER_COLOURS]
    frequent = np.take_along_axis(counts, top, 1) >= np.maximum(3, 0.04 * frame.sum(1))[:, None]
    near = np.zeros((n, p), bool)
    for crop, slot in zip(*np.nonzero(frequent), strict=True):
        centre = colours._bin_centres(top[crop, slot])
        near[crop] |= colours.cie94(lab[crop], centre[None]) < colours.BACKGROUND_DELTA_E
    return near


def test_given_borders_of_few_and_of_many_colours_then_the_background_is_the_full_counts_one() -> None:
    """The frequent border bins are found from the frame's distinct colours, and a crop with more than
    BORDER_COLOURS frequent ones (here: 12 stripes) falls back to the full count: same masks either way."""
    rng = np.random.default_rng(3)
    grid = colours.GRID
    striped = np.zeros((grid, grid, 3), np.uint8)
    for k in range(12):
        striped[:, 2 * k:2 * k + 2] = rng.integers(0, 256, 3)
    crops = [striped, rng.integers(0, 256, (grid, grid, 3), dtype=np.uint8),
             np.full((grid, grid, 3), 90, np.uint8), (rng.integers(0, 4, (grid, grid, 3)) * 80).astype(np.uint8),
             striped[::-1].copy()]
    rgb = np.stack(crops).reshape(len(crops), -1, 3)
    lab = colours.lab_of(rgb)
    frame = colours._frame(np.array([[240, 200], [100, 300], [50, 50], [400, 120], [90, 90]], float),
                           grid).reshape(len(crops), -1)
    np.testing.assert_array_equal(colours.border_background(lab, frame), _border_background_by_full_count(lab, frame))
