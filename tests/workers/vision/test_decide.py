"""Answer or abstain: every signal with an opinion must agree, and the query must look like the index."""

from __future__ import annotations

import numpy as np

from shared.vocab import GENDERS
from workers.vision.attributes import decide, in_domain, mix
from workers.vision.garment_types import COARSE, GARMENT_TYPES, category_of
from workers.vision.retrieval import Calibrator, Vote

MEN = np.array([0.02, 0.97, 0.01])
WOMEN = np.array([0.9, 0.08, 0.02])


def _decide(crops: np.ndarray | None, whole: np.ndarray | None, vote: Vote, ok: bool = True) -> str | None:
    return decide("gender", GENDERS, crops, whole, vote, Calibrator(), 0.95, 0.9, ok).value


def test_agreeing_confident_signals_answer() -> None:
    assert _decide(MEN, MEN, Vote({"men": 0.7, "women": 0.3})) == "men"
    assert _decide(None, MEN, Vote()) == "men"  # no crops, an index without gender labels


def test_any_disagreement_or_out_of_domain_abstains() -> None:
    assert _decide(MEN, MEN, Vote({"women": 0.6, "men": 0.4})) is None   # neighbours say otherwise
    assert _decide(MEN, WOMEN, Vote({"men": 0.9})) is None                # crops vs whole image
    assert _decide(MEN, MEN, Vote({"men": 0.9}), ok=False) is None        # unlike the catalogue
    assert _decide(WOMEN, WOMEN, Vote({"women": 0.5})) is None            # head below its threshold, vote weak


def test_a_plain_clip_tower_falls_back_to_the_calibrated_vote() -> None:
    assert decide("gender", [], None, None, Vote({"kids": 0.95}), Calibrator(), None, 0.9, True).value == "kids"
    assert decide("gender", [], None, None, Vote({"kids": 0.6}), Calibrator(), None, 0.9, True).value is None


def test_in_domain_uses_the_index_profile() -> None:
    manifest = {"similarity": {"p05": 0.6}}
    assert in_domain(0.7, manifest) and not in_domain(0.5, manifest) and in_domain(0.1, {})


def test_mix_weights_crops() -> None:
    mixed = mix([MEN, WOMEN], [3.0, 1.0])
    assert mixed is not None and mixed.argmax() == 1 and mix([], []) is None


def test_garment_types_map_onto_detector_classes_and_words() -> None:
    assert set(COARSE) == set(GARMENT_TYPES)
    assert COARSE["hoodie"] == "shirt" and COARSE["coat"] == "jacket" and COARSE["socks"] is None
    assert category_of("Relaxed-fit T-shirt") == "t-shirt" and category_of("Shirt dress") == "dress"
    assert category_of("Wide jeans") == "pants" and category_of("Gift card") is None
