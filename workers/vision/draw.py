"""Draw an evidence pack on its image: garment boxes, labels with scores, colour swatches with shares."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from shared.images import DecodedImage
from shared.schemas import EvidencePack

BOX_COLOURS = ((255, 64, 64), (64, 160, 255), (64, 220, 120), (255, 200, 0), (200, 90, 255), (255, 128, 0))


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1
        return ImageFont.load_default()


def draw_evidence(image: DecodedImage, pack: EvidencePack) -> Image.Image:
    """A copy of the image with the pack drawn on it (coordinates mapped from original to decoded pixels)."""
    canvas = Image.fromarray(np.ascontiguousarray(image.rgb)).convert("RGB")
    draw = ImageDraw.Draw(canvas)
    side = max(canvas.size)
    font = _font(max(11, side // 50))
    swatch = max(10, side // 45)
    for n, garment in enumerate(pack.garments):
        colour = BOX_COLOURS[n % len(BOX_COLOURS)]
        x1, y1, x2, y2 = (v / image.scale for v in garment.box)
        draw.rectangle((x1, y1, x2, y2), outline=colour, width=max(2, side // 300))
        text = f"{garment.label} {garment.score:.2f}"
        left, top, right, bottom = draw.textbbox((x1 + 3, y1 + 2), text, font=font)
        draw.rectangle((left - 2, top - 2, right + 2, bottom + 2), fill=colour)
        draw.text((x1 + 3, y1 + 2), text, fill=(0, 0, 0), font=font)
        y = bottom + 4
        for c in garment.colours:
            draw.rectangle((x1 + 3, y, x1 + 3 + swatch, y + swatch), fill=tuple(c.rgb), outline=(0, 0, 0))
            label = f"{c.name} {round(c.share * 100)}%"
            lx, ly = x1 + 6 + swatch, y
            box = draw.textbbox((lx, ly), label, font=font)
            draw.rectangle((box[0] - 1, box[1] - 1, box[2] + 1, box[3] + 1), fill=(255, 255, 255))
            draw.text((lx, ly), label, fill=(0, 0, 0), font=font)
            y += swatch + 3
    attrs = pack.attributes
    summary = " | ".join(
        f"{name}: {a.value or 'unknown'} ({a.confidence:.2f})"
        for name, a in (("gender", attrs.gender), ("fabric", attrs.fabric))
    )
    box = draw.textbbox((4, canvas.height - 4), summary, font=font, anchor="ld")
    draw.rectangle((box[0] - 3, box[1] - 3, box[2] + 3, box[3] + 3), fill=(0, 0, 0))
    draw.text((4, canvas.height - 4), summary, fill=(255, 255, 255), font=font, anchor="ld")
    return canvas


def save_drawing(image: DecodedImage, pack: EvidencePack, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    draw_evidence(image, pack).save(path)
    return path
