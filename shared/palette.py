"""The fashion colour palette and colour naming by CIEDE2000 distance in CIELAB (numpy only).

Every stage that speaks about colour uses these names (the language stage grounds captions against them).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PaletteColour:
    name: str
    rgb: tuple[int, int, int]
    # coarse family in H&M's perceived_colour_master_name vocabulary (for evaluation); silver counts as grey
    # because pixels cannot tell a silver-coloured garment from a grey one
    family: str


PALETTE: tuple[PaletteColour, ...] = (
    PaletteColour("black", (26, 26, 28), "black"),
    PaletteColour("charcoal", (88, 89, 92), "grey"),
    PaletteColour("grey", (128, 128, 130), "grey"),
    PaletteColour("light grey", (168, 168, 170), "grey"),
    PaletteColour("silver", (160, 163, 172), "grey"),
    PaletteColour("white", (234, 234, 232), "white"),
    PaletteColour("cream", (238, 230, 210), "white"),
    PaletteColour("beige", (214, 196, 168), "beige"),
    PaletteColour("camel", (190, 150, 105), "beige"),
    PaletteColour("taupe", (140, 124, 112), "mole"),
    PaletteColour("tan", (158, 112, 72), "brown"),
    PaletteColour("brown", (112, 74, 48), "brown"),
    PaletteColour("chocolate", (70, 46, 34), "brown"),
    PaletteColour("khaki", (170, 160, 120), "khaki green"),
    PaletteColour("olive", (100, 100, 55), "khaki green"),
    PaletteColour("navy", (24, 28, 52), "blue"),
    PaletteColour("denim blue", (72, 98, 136), "blue"),
    PaletteColour("blue", (40, 84, 170), "blue"),
    PaletteColour("light blue", (160, 190, 222), "blue"),
    PaletteColour("teal", (20, 115, 120), "turquoise"),
    PaletteColour("turquoise", (70, 195, 195), "turquoise"),
    PaletteColour("dark green", (28, 72, 44), "green"),
    PaletteColour("green", (50, 140, 70), "green"),
    PaletteColour("mint", (172, 222, 196), "green"),
    PaletteColour("red", (196, 30, 42), "red"),
    PaletteColour("burgundy", (108, 24, 42), "red"),
    PaletteColour("pink", (236, 150, 175), "pink"),
    PaletteColour("light pink", (246, 208, 214), "pink"),
    PaletteColour("fuchsia", (212, 40, 130), "pink"),
    PaletteColour("lilac", (188, 166, 212), "lilac purple"),
    PaletteColour("purple", (98, 48, 128), "lilac purple"),
    PaletteColour("orange", (238, 118, 34), "orange"),
    PaletteColour("coral", (240, 128, 108), "orange"),
    PaletteColour("rust", (176, 70, 30), "orange"),
    PaletteColour("yellow", (244, 212, 48), "yellow"),
    PaletteColour("mustard", (200, 160, 44), "yellow"),
    PaletteColour("gold", (196, 162, 86), "metal"),
)
COLOUR_NAMES: tuple[str, ...] = tuple(c.name for c in PALETTE)
FAMILY_OF: dict[str, str] = {c.name: c.family for c in PALETTE}

_D65 = np.array([0.95047, 1.0, 1.08883])


def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """sRGB uint8/float 0..255 array [..., 3] -> CIELAB (D65) float64 [..., 3]."""
    c = np.asarray(rgb, dtype=np.float64) / 255.0
    linear = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    m = np.array([[0.4124564, 0.3575761, 0.1804375],
                  [0.2126729, 0.7151522, 0.0721750],
                  [0.0193339, 0.1191920, 0.9503041]])
    xyz = linear @ m.T / _D65
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], -1)


def lab_to_rgb(lab: np.ndarray) -> np.ndarray:
    """CIELAB [..., 3] -> sRGB uint8 [..., 3] (clipped to the gamut)."""
    lab = np.asarray(lab, dtype=np.float64)
    fy = (lab[..., 0] + 16) / 116
    f = np.stack([fy + lab[..., 1] / 500, fy, fy - lab[..., 2] / 200], -1)
    xyz = np.where(f > 6 / 29, f**3, 3 * (6 / 29) ** 2 * (f - 4 / 29)) * _D65
    m_inv = np.array([[3.2404542, -1.5371385, -0.4985314],
                      [-0.9692660, 1.8760108, 0.0415560],
                      [0.0556434, -0.2040259, 1.0572252]])
    linear = np.clip(xyz @ m_inv.T, 0, 1)
    c = np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * linear ** (1 / 2.4) - 0.055)
    return np.clip(np.round(c * 255), 0, 255).astype(np.uint8)


def ciede2000(lab1: np.ndarray, lab2: np.ndarray) -> np.ndarray:
    """CIEDE2000 colour difference, broadcasting over the leading axes of two [..., 3] Lab arrays."""
    l1, a1, b1 = np.moveaxis(np.asarray(lab1, np.float64), -1, 0)
    l2, a2, b2 = np.moveaxis(np.asarray(lab2, np.float64), -1, 0)
    c_bar = (np.hypot(a1, b1) + np.hypot(a2, b2)) / 2
    g = 0.5 * (1 - np.sqrt(c_bar**7 / (c_bar**7 + 25.0**7)))
    a1p, a2p = (1 + g) * a1, (1 + g) * a2
    c1p, c2p = np.hypot(a1p, b1), np.hypot(a2p, b2)
    h1p = np.degrees(np.arctan2(b1, a1p)) % 360
    h2p = np.degrees(np.arctan2(b2, a2p)) % 360
    dl, dc = l2 - l1, c2p - c1p
    dh = h2p - h1p
    dh = np.where(dh > 180, dh - 360, np.where(dh < -180, dh + 360, dh))
    dh = np.where(c1p * c2p == 0, 0, dh)
    d_h = 2 * np.sqrt(c1p * c2p) * np.sin(np.radians(dh / 2))
    l_bar, c_bar_p = (l1 + l2) / 2, (c1p + c2p) / 2
    h_sum = h1p + h2p
    h_bar = np.where(np.abs(h1p - h2p) > 180, np.where(h_sum < 360, (h_sum + 360) / 2, (h_sum - 360) / 2),
                     h_sum / 2)
    h_bar = np.where(c1p * c2p == 0, h_sum, h_bar)
    t = (1 - 0.17 * np.cos(np.radians(h_bar - 30)) + 0.24 * np.cos(np.radians(2 * h_bar))
         + 0.32 * np.cos(np.radians(3 * h_bar + 6)) - 0.20 * np.cos(np.radians(4 * h_bar - 63)))
    s_l = 1 + 0.015 * (l_bar - 50) ** 2 / np.sqrt(20 + (l_bar - 50) ** 2)
    s_c = 1 + 0.045 * c_bar_p
    s_h = 1 + 0.015 * c_bar_p * t
    r_t = (-2 * np.sqrt(c_bar_p**7 / (c_bar_p**7 + 25.0**7))
           * np.sin(np.radians(60 * np.exp(-(((h_bar - 275) / 25) ** 2)))))
    return np.sqrt((dl / s_l) ** 2 + (dc / s_c) ** 2 + (d_h / s_h) ** 2 + r_t * (dc / s_c) * (d_h / s_h))


PALETTE_LAB: np.ndarray = rgb_to_lab(np.array([c.rgb for c in PALETTE]))


# below this chroma a colour is a neutral (more so when dark): a black suit under green stadium light is black
NEUTRAL_CHROMA = 6.0
DARK_NEUTRAL_CHROMA, DARK_LIGHTNESS = 14.0, 42.0
_NEUTRAL = np.array([c.name in ("black", "charcoal", "grey", "light grey", "silver", "white") for c in PALETTE])


def name_lab(lab: np.ndarray) -> list[str]:
    """The nearest palette name (CIEDE2000) of each Lab colour in an [N, 3] array; neutrals stay neutral."""
    lab = np.atleast_2d(lab)
    distances = ciede2000(lab[:, None, :], PALETTE_LAB[None, :, :])
    chroma = np.hypot(lab[:, 1], lab[:, 2])
    hue = np.degrees(np.arctan2(lab[:, 2], lab[:, 1])) % 360
    bluish = (hue > 230) & (hue < 320)  # navy is a real dark colour, not a lighting cast
    dark_cast = (lab[:, 0] < DARK_LIGHTNESS) & (chroma < DARK_NEUTRAL_CHROMA) & ~bluish
    neutral = (chroma < NEUTRAL_CHROMA) | dark_cast
    distances[np.ix_(neutral, ~_NEUTRAL)] = np.inf
    return [PALETTE[i].name for i in distances.argmin(1)]


def name_rgb(rgb: tuple[int, int, int] | np.ndarray) -> str:
    return name_lab(rgb_to_lab(np.asarray(rgb)))[0]
