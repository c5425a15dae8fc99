"""`pixels2posts models train-detector` forwards the trainer's options to it (declared once, in
training/detector/train.py) and asks for --coco-onnx only when it must make the starting weights."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CLI = [sys.executable, "-m", "pixels2posts", "models", "train-detector"]


def test_given_no_starting_weights_and_no_coco_model_then_it_says_what_to_give(tmp_path: Path) -> None:
    done = subprocess.run([*CLI, "--data", str(tmp_path / "cf"), "--weights", str(tmp_path / "none.pt")],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2
    assert f"--weights {tmp_path / 'none.pt'} does not exist: give --coco-onnx" in done.stderr


def test_given_an_option_the_trainer_does_not_know_then_the_trainer_rejects_it() -> None:
    done = subprocess.run([*CLI, "--no-such-option", "3"], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2
    assert "unrecognized arguments: --no-such-option 3" in done.stderr
