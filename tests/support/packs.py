"""Hand-built evidence packs, as the vision stage would send them (the language-stage and CLI tests)."""

from __future__ import annotations

import hashlib

from shared.schemas import Attribute, Attributes, Colour, EvidencePack, Garment, ImageInfo

RGB = {
    "navy": (20, 30, 80), "white": (245, 245, 245), "black": (10, 10, 10), "beige": (210, 190, 160),
    "red": (200, 20, 30), "grey": (128, 128, 128), "light blue": (150, 190, 230), "brown": (110, 70, 40),
    "dark green": (20, 70, 30), "pink": (240, 150, 180),
}


def make_pack(
    garments: list[tuple[str, list[str]]],
    fabric: str | None = None,
    gender: str | None = None,
    style_examples: list[str] | None = None,
    seed: str = "photo",
) -> EvidencePack:
    """An evidence pack as the vision stage would send it: garments with colours (largest share first)."""
    built = []
    for index, (label, colours) in enumerate(garments):
        shares = [round(1.0 / (rank + 2), 3) for rank in range(len(colours))]
        built.append(
            Garment(
                label=label,
                score=round(0.95 - 0.05 * index, 3),
                box=(10.0 * index, 20.0, 10.0 * index + 100, 220.0),
                colours=[Colour(name=name, rgb=RGB.get(name, (1, 2, 3)), share=share)
                         for name, share in zip(colours, shares, strict=True)],
            )
        )
    return EvidencePack(
        image=ImageInfo(sha256=hashlib.sha256(seed.encode()).hexdigest(), width=400, height=600),
        garments=built,
        attributes=Attributes(
            gender=Attribute(value=gender, confidence=0.9 if gender else 0.3),
            fabric=Attribute(value=fabric, confidence=0.8 if fabric else 0.2),
        ),
        style_examples=style_examples or [],
    )
