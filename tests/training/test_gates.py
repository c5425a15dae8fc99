"""Picking the statement gates: hand-made packs with known truth, scored the way captions are."""

from __future__ import annotations

from pixels2posts.evaluation.truth import truth_of
from shared.schemas import Attribute, Attributes, Colour, EvidencePack, Garment, ImageInfo
from training.tower.gates import (
    Record,
    attribute_tables,
    contradiction_bound,
    gated,
    pick,
    pick_classes,
    pick_scene,
    product_of,
    summary,
)
from workers.vision.gates import garment_gate

BLACK = Colour(name="black", rgb=(10, 10, 10), share=0.9)


def _record(label: str, type_confidence: float, truth_category: str, gender: str | None = None,
            gender_confidence: float = 0.0, whole: Garment | None = None, backdrop: str = "studio") -> Record:
    garment = Garment(label=label, score=0.5, box=(0, 0, 10, 10), colours=[BLACK], source="image",
                      type_confidence=type_confidence, colour_confidence=0.99)
    pack = EvidencePack(image=ImageInfo(sha256="0" * 64, width=10, height=10), garments=[garment],
                        attributes=Attributes(gender=Attribute(value=gender, confidence=gender_confidence),
                                              fabric=Attribute(value=None, confidence=0.0)),
                        backdrop=backdrop)
    return Record(pack, whole, truth_of(truth_category, "Black", "Ladieswear", ""))


def test_given_confident_right_and_unsure_wrong_garments_then_the_gate_keeps_only_the_right_ones() -> None:
    records = [_record("dress", 0.99, "Dress"), _record("shirt", 0.98, "Top"), _record("skirt", 0.6, "Trousers"),
               _record("dress", 0.95, "Dress", gender="men", gender_confidence=0.92)]

    gates = pick(records, attribute_tables(records, detection=1.0), target=0.0, detection=1.0)

    assert 0.6 < gates["garment"] <= 0.95 and gates["gender"] > 0.92
    after = summary(records, gates)
    assert after["contradicted"] == 0.0 and after["truth_recall"] > 0.0
    assert summary(records, {**dict.fromkeys(gates, 0.0)})["contradicted"] == 0.5


def test_given_every_detection_gated_out_then_a_sure_whole_image_garment_is_stated() -> None:
    whole = Garment(label="pants", score=0.99, box=(0, 0, 10, 10), source="image", type_confidence=0.99)
    record = _record("skirt", 0.2, "Trousers", whole=whole)
    gates = {"garment": 0.9, "detection": 1.0, "colour": 0.0, "gender": 0.0, "fabric": 0.0}
    assert [g.label for g in gated(record, gates).garments] == ["pants"]
    assert gated(record, {**gates, "garment": 0.995}).garments == []


def test_product_of_an_article_is_the_index_group() -> None:
    assert product_of("0111586001") == "111586" and product_of("0908381002") == "908381"


def test_given_a_class_the_head_never_gets_wrong_then_it_gets_its_own_lower_gate_and_the_rest_keep_theirs() -> None:
    # Given bags stated right at 0.7 and tops wrong at 0.7, under a common garment gate of 0.9
    hm = [_record("bag", 0.7, "Bag"), _record("bag", 0.75, "Bag"), _record("shirt", 0.7, "Dress"),
          _record("shirt", 0.95, "Top")]
    clothing = [_record("bag", 0.72, "bag")]
    gates = {"garment": 0.9, "detection": 1.0, "colour": 0.0, "gender": 0.0, "fabric": 0.0}

    # When per-class gates are picked with no contradiction allowed
    chosen = pick_classes({"hm": (hm, 0.0), "clothing": (clothing, 0.0)}, gates)

    # Then bags get a gate that states them, tops keep one above the wrong top's confidence
    assert chosen["garment:bag"] <= 0.7 and chosen.get("garment:shirt", chosen["garment"]) > 0.7
    assert summary(hm, chosen)["contradicted"] == 0.0
    assert summary(hm, chosen)["truth_recall"] > summary(hm, gates)["truth_recall"]


def test_the_contradiction_bound_is_the_rate_without_confidence_and_a_clopper_pearson_bound_with_it() -> None:
    assert contradiction_bound(9 / 649, 649, 0.0) == 9 / 649
    # one-sided 95 %: 0 of 100 -> 1 - 0.05 ** (1 / 100) (exact for k = 0); 6 of 649 -> about 1.8 %
    assert abs(contradiction_bound(0.0, 100, 0.95) - (1 - 0.05 ** 0.01)) < 1e-9
    assert 0.0175 < contradiction_bound(6 / 649, 649, 0.95) < 0.0185
    assert contradiction_bound(9 / 649, 649, 0.95) > 0.02  # the old pick's rate fails 2 %


def test_given_a_small_calibration_set_when_a_confidence_is_asked_then_an_unsure_statement_is_withheld() -> None:
    # Given 40 right dresses at 0.95 and one wrong at 0.95 among them, and 58 right ones at 0.99
    records = ([_record("dress", 0.95, "Dress") for _ in range(40)] + [_record("dress", 0.95, "Trousers")]
               + [_record("dress", 0.99, "Dress") for _ in range(58)])
    tables = attribute_tables(records, detection=1.0)

    # When 2 % is asked of the rate (1 of 99: allowed), 4 % of its 95 % bound (1 of 99 -> 4.7 %: not allowed)
    by_rate = pick(records, tables, target=0.02, detection=1.0)
    by_bound = pick(records, tables, target=0.04, detection=1.0, confidence=0.95)

    # Then the rate keeps the 0.95 garments; the bound keeps only the 0.99 ones (0 of 99 -> bound 3.0 %)
    assert by_rate["garment"] <= 0.95 and summary(records, by_rate)["contradicted"] > 0
    assert 0.95 < by_bound["garment"] <= 0.99 and summary(records, by_bound)["contradicted"] == 0


def test_given_scene_photos_the_head_is_right_about_at_lower_confidence_then_they_get_looser_garment_gates() -> None:
    # Given studio photos where a 0.8 top is wrong, and scene photos where 0.7 garments are right and 0.5 ones wrong
    studio_records = [_record("shirt", 0.8, "Dress"), _record("dress", 0.99, "Dress")]
    scene_records = [_record("pants", 0.7, "Trousers", backdrop="scene"),
                     _record("shirt", 0.75, "Top", backdrop="scene"),
                     _record("skirt", 0.5, "Dress", backdrop="scene")]
    studio = {"garment": 0.9, "detection": 1.0, "colour": 0.93, "gender": 0.98, "fabric": 0.93}

    # When the scene gates are picked with no contradiction allowed
    scene = pick_scene(scene_records, studio, target=0.0)

    # Then scene garments at 0.7 are stated, the 0.5 one is not, and the non-garment gates stay the studio ones
    assert garment_gate("pants", scene) <= 0.7 and garment_gate("shirt", scene) <= 0.75
    assert garment_gate("skirt", scene) > 0.5
    assert {k: scene[k] for k in ("colour", "gender", "fabric", "detection")} == {
        k: studio[k] for k in ("colour", "gender", "fabric", "detection")}
    assert summary(scene_records, scene)["contradicted"] == 0.0
    assert summary(scene_records, scene)["truth_recall"] > summary(scene_records, studio)["truth_recall"]
    # and each photo is scored under its own backdrop's gates: the wrong studio top stays out under studio gates
    both = summary(studio_records + scene_records, studio, scene)
    assert both["n"] == 5 and both["contradicted"] == 0.0
    assert summary(studio_records + scene_records, scene)["contradicted"] == 0.2


def test_given_no_scene_photo_then_the_scene_gates_are_the_studio_ones() -> None:
    studio = {"garment": 0.9, "detection": 1.0, "colour": 0.93, "gender": 0.98, "fabric": 0.93, "garment:bag": 0.5}
    assert pick_scene([], studio, target=0.03) == studio
    assert summary([], studio, studio) == {"n": 0, "contradicted": 0.0, "truth_recall": 0.0}
