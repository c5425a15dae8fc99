"""Scoring and summarising a system's captions, and `pixels2posts eval captions --dataset` as a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pixels2posts.evaluation.captions import report, run
from pixels2posts.evaluation.dataset import EvalItem, hm_test_rows, write_csv
from pixels2posts.evaluation.systems import SystemOutput
from pixels2posts.evaluation.truth import truth_of
from tests.conftest import SAMPLE_PHOTOS

REPO = Path(__file__).resolve().parents[3]


class HandWritten:
    """Captions written by hand for the scoring test: the system under test here is the scorer."""

    name = "hand"

    def __init__(self, captions: dict[str, str]) -> None:
        self.captions = captions

    def caption(self, image: Path) -> SystemOutput:
        return SystemOutput(self.captions[image.name], ["#navyblazer"], "llm" if "navy" in image.name else "fallback",
                            None, 0.5)


def _items(tmp_path: Path) -> list[EvalItem]:
    items = []
    for name in ("navy.jpg", "red.jpg", "plain.jpg"):
        (tmp_path / name).write_bytes(b"")
        items.append(EvalItem(name, tmp_path / name, "A navy blazer in wool for men.",
                              truth_of("Blazer", "Dark Blue", "Menswear", "wool"), {}))
    return items


def test_given_hand_written_captions_then_the_summary_has_the_hand_computed_values(tmp_path: Path) -> None:
    system = HandWritten({"navy.jpg": "A navy wool blazer for men.", "red.jpg": "A red blazer for women. Shop now!",
                          "plain.jpg": "A lovely piece."})
    summary = report(run(_items(tmp_path), system))
    metrics = summary["all"]
    assert metrics["truth_recall"].value == pytest.approx((1.0 + 0.25 + 0.0) / 3)
    assert metrics["contradiction_rate"].value == pytest.approx(1 / 3)
    assert metrics["per_attribute"]["gender"]["contradiction_rate"].value == pytest.approx(1 / 3)
    assert metrics["per_attribute"]["garment"]["truth_recall"].value == pytest.approx(2 / 3)
    assert metrics["open_claims_by_category"]["call_to_action"] == 1
    assert metrics["evidence_coverage"].value is None  # no evidence pack: n/a, never 1.0
    assert metrics["hashtag_truth_coverage"][">=0.5"].value == pytest.approx(1.0)  # navy + blazer = 2 of 4
    assert metrics["lexical"]["rouge1"].value is not None and metrics["lexical"]["bleu1"].n == 3
    assert summary["llm_share"] == pytest.approx(1 / 3)
    assert set(summary["by_writer"]) == {"llm", "fallback"}
    assert summary["by_writer"]["llm"]["truth_recall"].value == 1.0


def _cli(args: list[str]) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "P2P_LLM_BASE_URL": "http://127.0.0.1:9/v1",
           "P2P_LLM_MAX_RETRIES": "0"}
    return subprocess.run([sys.executable, "-m", "pixels2posts", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=600)


@pytest.mark.slow
def test_given_a_dataset_when_the_baseline_and_the_deterministic_writer_run_then_one_json_object_comes_back(
    tmp_path: Path, shared_dir: Path
) -> None:
    dataset = write_csv(hm_test_rows(shared_dir / "data" / "hm-catalog")[:3], tmp_path / "hm.csv")
    for extra in (["--system", "baseline"], ["--deterministic"]):
        done = _cli(["eval", "captions", "--dataset", str(dataset), "--json", *extra])
        assert done.returncode == 0, done.stderr
        result = json.loads(done.stdout)
        assert result["items"] == 3 and result["llm_share"] == 0.0
        assert result["seconds_per_item"]["value"] > 0
        assert {"truth_recall", "contradiction_rate", "per_attribute", "lexical", "open_claims_per_item",
                "hashtag_truth_coverage", "evidence_coverage"} <= set(result["metrics"])
        assert all(r["caption"] for r in result["records"])
        titles = {row["title"] for row in hm_test_rows(shared_dir / "data" / "hm-catalog")[:3]}
        assert not any(title in r["caption"] for r in result["records"] for title in titles if len(title) > 12)
    assert result["records"][0]["writer"] == "fallback" and result["records"][0]["evidence"] is not None


def test_given_a_broken_dataset_then_the_command_fails_with_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("id,title\n1,x\n")
    done = _cli(["eval", "captions", "--dataset", str(path), "--system", "baseline"])
    assert done.returncode == 2 and "missing column" in done.stderr


@pytest.mark.slow
def test_given_a_photo_when_captioned_with_the_baseline_system_then_a_description_comes_back() -> None:
    photo = sorted(SAMPLE_PHOTOS.glob("*.jpg"))[0]  # committed CC0
    done = _cli(["caption", "--system", "baseline", "--json", str(photo)])
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["system"] == "baseline" and len(result["caption"].split()) >= 4


def test_given_results_then_the_markdown_table_and_both_plots_are_written(tmp_path: Path) -> None:
    from PIL import Image

    from pixels2posts.evaluation.captions import jsonable
    from pixels2posts.evaluation.table import markdown, plot_all

    items = _items(tmp_path)
    for item in items:
        Image.new("RGB", (64, 96), (20, 30, 80)).save(item.image, "JPEG")
    system = HandWritten({"navy.jpg": "A navy wool blazer for men.", "red.jpg": "A red blazer for women.",
                          "plain.jpg": "A lovely piece."})
    summary = report(run(items, system))
    records = run(items, system)
    result = jsonable({"metrics": summary["all"], "by_writer": summary["by_writer"], "items": 3,
                       "llm_share": summary["llm_share"], "seconds_per_item": summary["seconds_per_item"],
                       "meteor_variant": summary["meteor_variant"], "records": records})
    results = {("baseline", "clothing"): result, ("local-llm", "clothing"): result}
    text = markdown(results)
    assert "end-to-end baseline" in text and "embedded LLM" in text and "written by **llm**" in text
    assert "0.42 [" in text  # truth recall (1 + 0.25 + 0) / 3
    paths = plot_all(results, tmp_path / "plots")
    assert [p.name for p in paths] == ["attributes.png", "gallery.png"]
    assert all(p.stat().st_size > 10_000 for p in paths)
