"""The closed vocabularies every stage agrees on: garment labels, genders, fabrics.

Colour names live with the palette (`shared/palette.py`); synonyms and inflections for grounding live with the
language stage.
"""

from __future__ import annotations

# detector classes, in the order of the model's class ids (colorful-fashion dataset)
GARMENT_LABELS: tuple[str, ...] = (
    "sunglass", "hat", "jacket", "shirt", "pants", "shorts", "skirt", "dress", "bag", "shoe",
)

GENDERS: tuple[str, ...] = ("women", "men", "kids")

# H&M index_group_name -> our gender vocabulary (Sport is sold mostly to women in this sample: see model card)
HM_INDEX_GROUP_TO_GENDER: dict[str, str | None] = {
    "Ladieswear": "women",
    "Divided": "women",
    "Menswear": "men",
    "Baby/Children": "kids",
    "Sport": None,
}

FABRICS: tuple[str, ...] = (
    "cotton", "jersey", "denim", "wool", "linen", "silk", "leather", "knit", "polyester", "viscose",
    "satin", "lace", "chiffon", "cashmere", "velvet", "suede", "fleece", "corduroy", "mesh", "nylon",
    "tulle", "twill", "rib", "sequin",
)
