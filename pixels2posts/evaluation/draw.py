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
    taken: list[tuple[float, float, float, float]] = []  # label blocks already drawn: never overlap them
    for n, garment in enumerate(pack.garments):  # all boxes first, so no box is drawn over a label
        x1, y1, x2, y2 = (v / image.scale for v in garment.box)
        draw.rectangle((x1, y1, x2, y2), outline=BOX_COLOURS[n % len(BOX_COLOURS)], width=max(2, side // 300))
    for n, garment in enumerate(pack.garments):
        colour = BOX_COLOURS[n % len(BOX_COLOURS)]
        x1, y1 = (v / image.scale for v in garment.box[:2])
        lines = [f"{garment.label} {garment.score:.2f}"] + [f"{c.name} {round(c.share * 100)}%"
                                                           for c in garment.colours]
        line_height = max(swatch, draw.textbbox((0, 0), "Ag", font=font)[3]) + 4
        width = max(draw.textlength(line, font=font) for line in lines) + swatch + 10
        height = line_height * len(lines) + 4
        top = y1 + 2
        while any(x1 < b[2] and x1 + width > b[0] and top < b[3] and top + height > b[1] for b in taken):
            top = max(b[3] for b in taken if x1 < b[2] and x1 + width > b[0] and top < b[3]) + 2
        taken.append((x1, top, x1 + width, top + height))
        draw.rectangle((x1, top, x1 + width, top + height), fill=(255, 255, 255), outline=colour, width=2)
        draw.text((x1 + 4, top + 2), lines[0], fill=(0, 0, 0), font=font)
        for row, c in enumerate(garment.colours, start=1):
            y = top + 2 + row * line_height
            draw.rectangle((x1 + 4, y, x1 + 4 + swatch, y + swatch), fill=tuple(c.rgb), outline=(0, 0, 0))
            draw.text((x1 + 8 + swatch, y), lines[row], fill=(0, 0, 0), font=font)
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
