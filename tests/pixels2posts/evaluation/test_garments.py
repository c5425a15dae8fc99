"""The garment-type check of the evidence pack: hand-made packs, then the command on committed CC0 photos."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from click.testing import CliRunner

from pixels2posts.cli import cli
from pixels2posts.evaluation.garments import item_scores, summarise, top_label
from shared.schemas import Garment
from tests.conftest import SAMPLE_PHOTOS
from tests.support.packs import make_pack


def _garment(label: str, score: float, type_confidence: float | None) -> Garment:
    return Garment(label=label, score=score, box=(0.0, 0.0, 5.0, 5.0), type_confidence=type_confidence)


def test_the_top_garment_is_the_one_the_type_head_is_surest_of_then_the_detectors() -> None:
    assert top_label([_garment("shirt", 0.9, 0.4), _garment("pants", 0.5, 0.8)]) == "pants"
    assert top_label([_garment("shirt", 0.9, None), _garment("pants", 0.5, None)]) == "shirt"
    assert top_label([]) is None


def test_given_stated_withheld_and_missing_garments_then_each_reading_is_scored() -> None:
    stated_right = make_pack([("dress", [])])
    withheld_right = stated_right.model_copy(update={"garments": [], "withheld": stated_right.garments})
    stated_wrong = make_pack([("skirt", [])])
    nothing = make_pack([])

    scores = [item_scores(pack, "dress") for pack in (stated_right, withheld_right, stated_wrong, nothing)]

    assert [s["stated_right"] for s in scores] == [1.0, 0.0, 0.0, 0.0]
    assert [s["found_right"] for s in scores] == [1.0, 1.0, 0.0, 0.0]
    assert [s["stated_none"] for s in scores] == [0.0, 1.0, 0.0, 1.0]
    assert [s["found_none"] for s in scores] == [0.0, 0.0, 0.0, 1.0]
    assert [s["stated_wrong"] for s in scores] == [0.0, 0.0, 1.0, 0.0]
    summary = summarise(scores, ["dress", "dress", "dress", "skirt"])
    assert summary["items"] == 4 and summary["found_right"]["value"] == 0.5
    assert summary["majority"] == {"label": "dress", "share": 0.75}


def test_given_a_catalogue_csv_when_garments_are_evaluated_then_unscorable_rows_are_left_out(tmp_path: Path) -> None:
    # Given three committed photos of mappable types and one labelled "Not sure"
    with (SAMPLE_PHOTOS.parent / "images.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    picked = [next(r for r in rows if r["label"] == label) for label in ("T-Shirt", "Pants", "Shoes")]
    dataset = tmp_path / "shop.csv"
    with dataset.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "image", "category"])
        for row in picked:
            writer.writerow([row["image"], str(SAMPLE_PHOTOS / f"{row['image']}.jpg"), row["label"]])
        writer.writerow(["unsure", str(SAMPLE_PHOTOS / f"{picked[0]['image']}.jpg"), "Not sure"])

    # When the command runs
    result = CliRunner().invoke(cli, ["eval", "garments", "--dataset", str(dataset), "--json"])

    # Then the three are scored, each with a garment found, and finding is never below stating
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["items"] == 3 and report["found_none"]["value"] == 0.0
    assert report["found_right"]["value"] >= report["stated_right"]["value"]
    table = CliRunner().invoke(cli, ["eval", "garments", "--dataset", str(dataset)])
    assert table.exit_code == 0 and "| found |" in table.output and "| stated |" in table.output
    assert report["majority"]["share"] == 1 / 3 and "majority class" in table.output
