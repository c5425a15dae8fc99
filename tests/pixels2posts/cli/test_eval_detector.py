"""`pixels2posts models eval-detector` as a real subprocess on a labelled folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from shared.vocab import GARMENT_LABELS

pytestmark = pytest.mark.slow
CLI = str(Path(sys.executable).parent / "pixels2posts")


def test_given_a_labelled_folder_when_eval_detector_runs_then_it_prints_and_writes_map(
    test_subset: Path, tmp_path: Path
) -> None:
    out = tmp_path / "metrics.json"
    command = [
        CLI,
        "models",
        "eval-detector",
        "--data",
        str(test_subset),
        "--limit",
        "16",
        "--batch-size",
        "8",
        "--json",
        str(out),
    ]
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "P2P_ORT_PROVIDERS": "cpu"},
    )
    assert done.returncode == 0, done.stderr
    assert "mAP@0.5 " in done.stdout and "16 images" in done.stdout
    metrics = json.loads(out.read_text())
    assert metrics["images"] == 16
    assert 0.5 < metrics["map50"] <= 1.0 and 0.0 < metrics["map50_95"] < metrics["map50"]
    assert set(metrics["per_class"]) <= set(GARMENT_LABELS)
    assert f"{metrics['map50']:.4f}" in done.stdout


def test_given_a_folder_without_images_when_eval_detector_runs_then_it_fails_clearly(tmp_path: Path) -> None:
    command = [CLI, "models", "eval-detector", "--data", str(tmp_path)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode != 0
    assert "no images/ folder" in done.stdout + done.stderr
