"""Statement gates: a claim below its gate leaves the evidence pack; a claim with no confidence is not gated."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from shared.schemas import Attribute, Attributes, Colour, Garment
from shared.settings import Settings
from workers.vision.gates import garment_gate, gate_attributes, gate_garments
from workers.vision.pipeline import class_probability

GATES = {"garment": 0.8, "colour": 0.9, "gender": 0.95, "fabric": 0.7}
BLACK = Colour(name="black", rgb=(10, 10, 10), share=0.8)


def _garment(label: str, type_confidence: float | None, colour_confidence: float | None) -> Garment:
    return Garment(label=label, score=0.9, box=(0, 0, 10, 10), colours=[BLACK], type_confidence=type_confidence,
                   colour_confidence=colour_confidence)


def test_given_garments_when_gated_then_unsure_types_go_and_unsure_colours_are_left_unsaid() -> None:
    garments = [_garment("shirt", 0.95, 0.97), _garment("pants", 0.6, 0.99), _garment("jacket", 0.85, 0.5)]

    kept = gate_garments(garments, GATES)

    assert [g.label for g in kept] == ["shirt", "jacket"]
    assert kept[0].colours == [BLACK] and kept[1].colours == []
    assert garments[2].colours == [BLACK]  # the input pack is not changed


def test_given_no_confidence_when_gated_then_the_claim_stays() -> None:
    kept = gate_garments([_garment("dress", None, None)], GATES)
    assert [g.label for g in kept] == ["dress"] and kept[0].colours == [BLACK]


def test_given_attributes_when_gated_then_each_attribute_meets_its_own_gate() -> None:
    attributes = Attributes(gender=Attribute(value="women", confidence=0.94),
                            fabric=Attribute(value="denim", confidence=0.7),
                            colour=Attribute(value="black", confidence=0.89))

    gated = gate_attributes(attributes, GATES)

    assert gated.gender.value is None and gated.gender.confidence == 0.94  # the confidence stays visible
    assert gated.fabric.value == "denim"
    assert gated.colour is not None and gated.colour.value is None
    assert gate_attributes(attributes, dict.fromkeys(GATES, 0.0)) == attributes


def test_the_class_probability_sums_the_finer_types_of_a_detector_class() -> None:
    vocabulary = ["t-shirt", "hoodie", "pants", "dress"]
    probs = np.array([0.3, 0.25, 0.4, 0.05])
    assert class_probability(probs, vocabulary, "shirt") == 0.55
    assert class_probability(probs, vocabulary, "pants") == 0.4
    assert class_probability(probs, vocabulary, "hat") == 0.0


def test_given_a_class_gate_when_gated_then_that_class_meets_its_own_gate_and_the_others_the_common_one() -> None:
    garments = [_garment("bag", 0.7, 0.99), _garment("shirt", 0.7, 0.99), _garment("dress", 0.85, 0.99)]

    kept = gate_garments(garments, {**GATES, "garment:bag": 0.6, "garment:dress": 0.9})

    assert [g.label for g in kept] == ["bag"]  # bag 0.7 >= its 0.6; shirt 0.7 < 0.8; dress 0.85 < its 0.9
    assert garment_gate("shirt", {**GATES, "garment:bag": 0.6}) == GATES["garment"]


def test_given_class_gates_in_the_environment_then_settings_state_them_and_refuse_unknown_classes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("P2P_GATE_GARMENT_CLASSES", '{"bag": 0.5}')
    assert Settings().statement_gates["garment:bag"] == 0.5
    assert "garment:shoe" not in Settings().statement_gates  # the variable replaces the default classes

    monkeypatch.setenv("P2P_GATE_GARMENT_CLASSES", '{"handbag": 0.5}')
    with pytest.raises(ValidationError, match="no detector class handbag"):
        Settings()
    monkeypatch.setenv("P2P_GATE_GARMENT_CLASSES", '{"bag": 1.5}')
    with pytest.raises(ValidationError):
        Settings()


def test_given_a_scene_photo_then_its_garment_gates_are_the_scene_ones_and_the_rest_the_studio_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("P2P_GATE_SCENE_GARMENT", "0.6")
    monkeypatch.setenv("P2P_GATE_SCENE_GARMENT_CLASSES", '{"dress": 0.8}')
    settings = Settings()

    scene, studio = settings.statement_gates_for("scene"), settings.statement_gates_for("studio")

    assert scene["garment"] == 0.6 and scene["garment:dress"] == 0.8
    assert not {k for k in scene if k.startswith("garment:")} - {"garment:dress"}  # no studio class gate leaks in
    assert {k: scene[k] for k in ("colour", "gender", "fabric", "detection")} == {
        k: studio[k] for k in ("colour", "gender", "fabric", "detection")}
    assert studio == settings.statement_gates == settings.statement_gates_for(None)
    monkeypatch.setenv("P2P_GATE_SCENE_GARMENT_CLASSES", '{"gown": 0.8}')
    with pytest.raises(ValidationError, match="no detector class gown"):
        Settings()
