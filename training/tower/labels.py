"""Maps from each data set's labels onto the garment-type vocabulary (workers.vision.garment_types)."""

from __future__ import annotations

from workers.vision.garment_types import GARMENT_TYPES

HM_PRODUCT_TYPE: dict[str, str] = {
    "Trousers": "pants", "Leggings/Tights": "pants", "Dungarees": "jumpsuit", "Dress": "dress",
    "Sweater": "sweater", "T-shirt": "t-shirt", "Top": "top", "Blouse": "blouse", "Jacket": "jacket",
    "Outdoor Waistcoat": "jacket", "Tailored Waistcoat": "blazer", "Blazer": "blazer", "Coat": "coat",
    "Underwear bottom": "underwear", "Bra": "underwear", "Underwear body": "underwear", "Underwear Tights": "socks",
    "Socks": "socks", "Skirt": "skirt", "Shirt": "shirt", "Vest top": "vest top", "Hoodie": "hoodie",
    "Shorts": "shorts", "Bikini top": "swimwear", "Swimwear bottom": "swimwear", "Swimsuit": "swimwear",
    "Sarong": "swimwear", "Cardigan": "cardigan", "Earring": "jewellery", "Earrings": "jewellery",
    "Necklace": "jewellery", "Ring": "jewellery", "Bracelet": "jewellery", "Bag": "bag", "Wallet": "bag",
    "Boots": "shoe", "Sneakers": "shoe", "Heeled sandals": "shoe", "Sandals": "shoe", "Ballerinas": "shoe",
    "Flat shoe": "shoe", "Wedge": "shoe", "Pumps": "shoe", "Other shoe": "shoe", "Slippers": "shoe",
    "Flip flop": "shoe", "Belt": "accessory", "Hair/alice band": "accessory", "Hair string": "accessory",
    "Hair clip": "accessory", "Hair ties": "accessory", "Other accessories": "accessory", "Gloves": "accessory",
    "Umbrella": "accessory", "Tie": "accessory", "Bodysuit": "bodysuit", "Jumpsuit/Playsuit": "jumpsuit",
    "Scarf": "scarf", "Hat/beanie": "hat", "Cap/peaked": "hat", "Hat/brim": "hat", "Beanie": "hat",
    "Felt hat": "hat", "Sunglasses": "sunglass", "Polo shirt": "polo",
}

CLOTHING_PHOTOS_LABEL: dict[str, str] = {
    "T-Shirt": "t-shirt", "Pants": "pants", "Longsleeve": "longsleeve", "Shoes": "shoe", "Dress": "dress",
    "Shirt": "shirt", "Shorts": "shorts", "Outwear": "jacket", "Skirt": "skirt", "Polo": "polo",
    "Body": "bodysuit", "Undershirt": "vest top", "Hat": "hat", "Blazer": "blazer", "Hoodie": "hoodie",
    "Blouse": "blouse", "Top": "top",
}
# what counts as right for a clothing-photos label ("Outwear" is a jacket or a coat)
CLOTHING_PHOTOS_ACCEPT: dict[str, frozenset[str]] = {
    label: frozenset({kind, "coat"} if label == "Outwear" else {kind})
    for label, kind in CLOTHING_PHOTOS_LABEL.items()
}
assert set(HM_PRODUCT_TYPE.values()) <= set(GARMENT_TYPES)
assert set(CLOTHING_PHOTOS_LABEL.values()) <= set(GARMENT_TYPES)
