"""Statement gates: the pack states a claim only when its confidence clears the gate picked for that attribute.

The models' own thresholds decide what they answer; the gates decide what the evidence pack hands the language
stage, which states every garment, colour, gender and fabric it finds there. A wrong claim costs a shop more than an
omitted one, so the gates are picked on calibration photos for few contradicted captions (training/tower/gates.py),
one set per backdrop (workers/vision/backdrop.py: packshots on a light backdrop, and photos taken anywhere else,
whose garment gates are their own: `Settings.statement_gates_for`). The garments they keep back stay in the pack as
`withheld` (the language stage never reads it): what the models saw is not lost, only not published. A claim with
no confidence (a model without that head) is not gated: there is no signal.
"""

from __future__ import annotations

from collections.abc import Mapping

from shared.schemas import Attribute, Attributes, Garment

# a detection whose class the type head gives less than this is not stated on the detector's word alone
TYPE_VETO = 0.05


def _clears(confidence: float | None, gate: float) -> bool:
    return confidence is None or confidence >= gate


def garment_gate(label: str, gates: Mapping[str, float]) -> float:
    """The garment gate of a detector class: its own (`garment:<label>`) where one was picked, else the common one.

    Classes differ in how often the head is confidently wrong about them (a knitted dress read as a top; bags and
    shoes hardly ever), so one gate for all either says too little about the safe classes or too much about the
    confusable ones."""
    return gates.get(f"garment:{label}", gates["garment"])


def _garment_clears(garment: Garment, gates: Mapping[str, float]) -> bool:
    """The type head is sure of the class, or (a detection) the detector is sure and the head does not rule it out.

    The head learnt product photos: on street crops it is rarely sure (Colorful Fashion), and there the detector's
    own score is the better signal; on product photos the street-trained detector is confidently wrong where the
    head gives its class almost nothing (H&M calibration products), hence the veto."""
    if _clears(garment.type_confidence, garment_gate(garment.label, gates)):
        return True
    return (garment.source == "detector" and garment.score >= gates["detection"]
            and (garment.type_confidence is None or garment.type_confidence >= TYPE_VETO))


def gate_garments(garments: list[Garment], gates: Mapping[str, float]) -> list[Garment]:
    """Garments that clear the garment gate, each stating its colours only when they clear the colour gate."""
    kept = []
    for garment in garments:
        if not _garment_clears(garment, gates):
            continue
        if garment.colours and not _clears(garment.colour_confidence, gates["colour"]):
            garment = garment.model_copy(update={"colours": []})
        kept.append(garment)
    return kept


def _gated(attribute: Attribute, gate: float) -> Attribute:
    if attribute.value is None or attribute.confidence >= gate:
        return attribute
    return attribute.model_copy(update={"value": None})


def gate_attributes(attributes: Attributes, gates: Mapping[str, float]) -> Attributes:
    """Gender, fabric and the main colour with a value only when their confidence clears their gate."""
    colour = _gated(attributes.colour, gates["colour"]) if attributes.colour is not None else None
    return attributes.model_copy(update={"gender": _gated(attributes.gender, gates["gender"]),
                                         "fabric": _gated(attributes.fabric, gates["fabric"]), "colour": colour})
