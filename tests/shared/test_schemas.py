"""The public contract: evidence packs and caption results round-trip, carry their version, reject bad input."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from shared.schemas import (
    CAPTION_SCHEMA_VERSION,
    EVIDENCE_SCHEMA_VERSION,
    CaptionResult,
    EvidencePack,
    ShopMetadata,
)

SHA = "a" * 64


def evidence_dict() -> dict:
    return {
        "schema_version": EVIDENCE_SCHEMA_VERSION,
        "image": {"sha256": SHA, "width": 640, "height": 480},
        "garments": [
            {
                "label": "jacket",
                "score": 0.91,
                "box": [10.0, 20.0, 300.0, 400.0],
                "colours": [{"name": "navy", "rgb": [20, 30, 80], "share": 0.7}],
            }
        ],
        "attributes": {
            "gender": {"value": "women", "confidence": 0.93},
            "fabric": {"value": None, "confidence": 0.31},
        },
        "neighbours": [{"product_id": "0706016001", "score": 0.82}],
        "style_examples": ["a navy jacket for everyday wear"],
        "models": {"detector": "yolov8n-garments-1", "clip": "clip-1"},
    }


def caption_dict() -> dict:
    return {
        "caption": "A navy jacket for women.",
        "hashtags": ["#navyjacket", "#ootd"],
        "evidence": evidence_dict(),
        "grounding": {"attribute_coverage": 1.0, "unsupported": []},
        "provenance": {"llm": "gemma-3-270m", "prompt_version": "v1", "attempts": 1},
    }


def test_given_an_evidence_pack_when_serialised_to_json_and_back_then_it_is_unchanged() -> None:
    pack = EvidencePack.model_validate(evidence_dict())
    again = EvidencePack.model_validate_json(pack.model_dump_json())
    assert again == pack
    assert json.loads(pack.model_dump_json())["garments"][0]["box"] == [10.0, 20.0, 300.0, 400.0]


def test_given_a_caption_result_when_round_tripped_then_nested_evidence_survives() -> None:
    result = CaptionResult.model_validate(caption_dict())
    again = CaptionResult.model_validate_json(result.model_dump_json())
    assert again == result
    assert again.schema_version == CAPTION_SCHEMA_VERSION
    assert again.evidence.attributes.fabric.value is None


def test_public_field_names_are_stable() -> None:
    dumped = EvidencePack.model_validate(evidence_dict()).model_dump()
    assert {"schema_version", "image", "garments", "attributes", "neighbours", "style_examples", "models"} <= set(
        dumped
    )
    assert set(dumped["garments"][0]) >= {"label", "score", "box", "colours"}
    assert set(dumped["garments"][0]["colours"][0]) >= {"name", "rgb", "share"}
    result = CaptionResult.model_validate(caption_dict()).model_dump()
    assert {"caption", "hashtags", "evidence", "grounding", "provenance"} <= set(result)
    assert {"attribute_coverage", "unsupported"} <= set(result["grounding"])
    assert {"llm", "prompt_version", "attempts"} <= set(result["provenance"])


@pytest.mark.parametrize(
    ("path", "bad_value", "message"),
    [
        (("image", "sha256"), "not-a-hash", "sha256"),
        (("image", "width"), 0, "width"),
        (("garments", 0, "score"), 1.5, "score"),
        (("garments", 0, "box"), [300.0, 20.0, 10.0, 400.0], "x1<=x2"),
        (("garments", 0, "colours", 0, "rgb"), [0, 0, 300], "rgb"),
        (("attributes", "gender", "confidence"), -0.1, "confidence"),
        (("schema_version",), "2.0", "unsupported schema_version"),
    ],
)
def test_given_bad_evidence_when_validated_then_the_error_names_the_field(
    path: tuple, bad_value: object, message: str
) -> None:
    data = evidence_dict()
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = bad_value
    with pytest.raises(ValidationError, match=message):
        EvidencePack.model_validate(data)


def test_given_an_unknown_field_when_validated_then_it_is_rejected_not_dropped() -> None:
    data = evidence_dict()
    data["garmets"] = []
    with pytest.raises(ValidationError, match="garmets"):
        EvidencePack.model_validate(data)


@pytest.mark.parametrize("tag", ["navy", "#", "#navy jacket", "#navy-jacket"])
def test_given_a_malformed_hashtag_when_validated_then_it_is_rejected(tag: str) -> None:
    data = caption_dict()
    data["hashtags"] = [tag]
    with pytest.raises(ValidationError, match="hashtag"):
        CaptionResult.model_validate(data)


def test_given_a_minor_version_bump_when_validated_then_it_is_accepted() -> None:
    data = evidence_dict()
    data["schema_version"] = "1.7"
    assert EvidencePack.model_validate(data).schema_version == "1.7"


def test_shop_metadata_limits_are_enforced() -> None:
    assert ShopMetadata(sku="SKU-1", title="Linen shirt").sku == "SKU-1"
    with pytest.raises(ValidationError):
        ShopMetadata(max_hashtags=0)
    with pytest.raises(ValidationError):
        ShopMetadata(title="x" * 501)
