"""Studio or scene: was the photo shot on a plain light backdrop (a packshot) or somewhere else?

The statement gates are picked per backdrop (training/tower/gates.py). The type head learnt mostly packshots (H&M),
and its confidence means something else on a photo taken on a bed, a floor, a hanger or a street (clothing-photos,
Colorful Fashion): gates picked for packshots hold back most of what it says right about those, gates picked for
those would let through what it says wrong about packshots. The frame's border tells the two apart: on the
calibration folds 614 of the 649 H&M products and 1 of the 236 clothing-photos photos have at least 90 % of their
border near white, and none of the first 150 Colorful Fashion street photos (bench/street_statements.py).
"""

from __future__ import annotations

from typing import Literal

import numpy as np

Backdrop = Literal["studio", "scene"]

BORDER = 0.05  # the border strip, as a share of each side
LIGHT = 200  # a border pixel is light when each of its channels is at least this
STUDIO_SHARE = 0.9  # of the border light: a studio backdrop
GRID = 96  # the border is read on a grid of about this many pixels per side


def light_border_share(rgb: np.ndarray) -> float:
    """The share of the frame's border pixels (a strip of BORDER of each side) that are near white."""
    step = max(1, min(rgb.shape[:2]) // GRID)
    view = rgb[::step, ::step]
    rows, cols = view.shape[:2]
    strip_y, strip_x = max(1, round(rows * BORDER)), max(1, round(cols * BORDER))
    inner = view[strip_y:rows - strip_y]
    border = np.concatenate([view[:strip_y].reshape(-1, 3), view[rows - strip_y:].reshape(-1, 3),
                             inner[:, :strip_x].reshape(-1, 3), inner[:, cols - strip_x:].reshape(-1, 3)])
    if not len(border):
        return 0.0
    return float((border.min(axis=1) >= LIGHT).mean())


def backdrop_of(rgb: np.ndarray) -> Backdrop:
    return "studio" if light_border_share(rgb) >= STUDIO_SHARE else "scene"
