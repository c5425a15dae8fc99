"""Dominant colours of a garment: foreground pixels of its box, k-means in CIELAB, named by CIEDE2000.

Foreground: a person mask when one is given (DeepLabV3 via `PersonMasker`), intersected with our own background
model: colours of the box's border frame are background (the box is loose around the garment, so its border is
mostly what surrounds it). Skin-tone pixels are dropped too, unless most of the foreground is skin-toned (then the
garment itself is beige/pink/brown and must keep its pixels).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from shared.palette import ciede2000, lab_to_rgb, name_lab, rgb_to_lab
from shared.schemas import Colour

MAX_PIXELS = 4000          # pixels sampled per garment for clustering
BORDER_FRACTION = 0.06     # width of the frame that models the background
BACKGROUND_DELTA_E = 7.0   # a pixel this close (CIEDE2000) to a border colour is background
MIN_FOREGROUND = 0.08      # below this foreground share the mask is not trusted
MIN_SHARE = 0.12           # colours with a smaller share are not reported
CLUSTERS = 4


def skin_mask(rgb: np.ndarray) -> np.ndarray:
    """Skin-toned pixels by a YCrCb box rule (robust across skin tones in the usual ranges)."""
    c = rgb.astype(np.float32)
    y = 0.299 * c[..., 0] + 0.587 * c[..., 1] + 0.114 * c[..., 2]
    cr = (c[..., 0] - y) * 0.713 + 128
    cb = (c[..., 2] - y) * 0.564 + 128
    return (cr > 138) & (cr < 173) & (cb > 77) & (cb < 127) & (y > 60)


def border_background(lab: np.ndarray) -> np.ndarray:
    """True where a pixel's colour matches one of the colours on the crop's border frame."""
    height, width = lab.shape[:2]
    band = max(1, round(min(height, width) * BORDER_FRACTION))
    frame = np.concatenate([lab[:band].reshape(-1, 3), lab[-band:].reshape(-1, 3),
                            lab[:, :band].reshape(-1, 3), lab[:, -band:].reshape(-1, 3)])
    # a few representative border colours: quantise the frame and keep the frequent bins
    bins = np.round(frame / np.array([6.0, 8.0, 8.0])).astype(np.int32)
    keys, counts = np.unique(bins, axis=0, return_counts=True)
    frequent = keys[counts >= max(3, 0.04 * len(frame))] * np.array([6.0, 8.0, 8.0])
    if len(frequent) == 0:
        return np.zeros((height, width), bool)
    flat = lab.reshape(-1, 3)
    near = np.zeros(len(flat), bool)
    for colour in frequent[:8]:
        near |= ciede2000(flat, colour[None, :]) < BACKGROUND_DELTA_E
    return near.reshape(height, width)


def foreground_mask(rgb: np.ndarray, lab: np.ndarray, person: np.ndarray | None = None) -> np.ndarray:
    mask = ~border_background(lab)
    if person is not None and (mask & person).mean() >= MIN_FOREGROUND:
        mask &= person
    skin = skin_mask(rgb)
    if mask.any() and (mask & skin).sum() < 0.5 * mask.sum():
        mask &= ~skin
    if mask.mean() < MIN_FOREGROUND:
        # the garment blends with its background (white on white): trust the centre of the box instead
        height, width = mask.shape
        mask = np.zeros_like(mask)
        mask[height // 4: height - height // 4, width // 4: width - width // 4] = True
    return mask


def dominant_colours(crop: np.ndarray, person: np.ndarray | None = None, seed: int = 0) -> list[Colour]:
    """Named dominant colours of one garment crop (HxWx3 uint8), largest share first; shares sum to <= 1."""
    from sklearn.cluster import KMeans

    step = max(1, int(np.ceil(max(crop.shape[:2]) / 96)))
    rgb = crop[::step, ::step]
    if rgb.size == 0:
        return []
    lab = rgb_to_lab(rgb)
    small_person = person[::step, ::step] if person is not None else None
    pixels = lab[foreground_mask(rgb, lab, small_person)]
    if len(pixels) > MAX_PIXELS:
        pixels = pixels[np.random.default_rng(seed).choice(len(pixels), MAX_PIXELS, replace=False)]
    k = min(CLUSTERS, len(np.unique(np.round(pixels), axis=0)))
    if k == 0:
        return []
    km = KMeans(n_clusters=k, n_init=2, random_state=seed).fit(pixels)
    shares = np.bincount(km.labels_, minlength=k) / len(pixels)
    names = name_lab(km.cluster_centers_)
    merged: dict[str, tuple[float, np.ndarray]] = {}
    for name, share, centre in zip(names, shares, km.cluster_centers_, strict=True):
        total, weighted = merged.get(name, (0.0, np.zeros(3)))
        merged[name] = (total + float(share), weighted + share * centre)
    colours = [Colour(name=name, rgb=tuple(int(v) for v in lab_to_rgb(weighted / total)), share=round(total, 3))
               for name, (total, weighted) in merged.items() if total >= MIN_SHARE]
    return sorted(colours, key=lambda c: -c.share)


class PersonMasker:
    """DeepLabV3-MobileNetV2 (PASCAL VOC) person mask from a TFLite file, run with ai-edge-litert on CPU."""

    PERSON = 15

    def __init__(self, path: Path) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self._interpreter = Interpreter(model_path=str(path))
        self._interpreter.allocate_tensors()
        self._input = self._interpreter.get_input_details()[0]
        self._output = self._interpreter.get_output_details()[0]
        self.size = int(self._input["shape"][1])

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        """Boolean HxW person mask of a whole image."""
        from PIL import Image

        height, width = rgb.shape[:2]
        resized = np.asarray(Image.fromarray(rgb).resize((self.size, self.size), Image.Resampling.BILINEAR))
        self._interpreter.set_tensor(self._input["index"], resized[None].astype(self._input["dtype"]))
        self._interpreter.invoke()
        classes = self._interpreter.get_tensor(self._output["index"])[0]
        if classes.ndim == 3:
            classes = classes.argmax(-1)
        mask = Image.fromarray((classes == self.PERSON).astype(np.uint8) * 255).resize((width, height))
        return np.asarray(mask) > 127
