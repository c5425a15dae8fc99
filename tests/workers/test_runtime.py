"""What a worker process holds, built explicitly: the stores, its one stage (a real ONNX session in the stand-in),
and errors that say what broke when a stage class cannot be loaded."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.errors import ConfigError
from shared.settings import Settings
from tests.support.stand_in_vision import MeanColourPipeline
from workers import runtime

STAND_IN = "tests.support.stand_in_vision:MeanColourPipeline"


@pytest.fixture()
def settings(tmp_path: Path) -> Settings:
    return Settings(database_url=f"sqlite:///{tmp_path / 'jobs.db'}", blob_dir=tmp_path / "blobs",
                    ort_providers="cpu", ort_intra_threads=1)


def test_given_a_vision_worker_then_its_stage_is_warmed_up_and_it_refuses_language_tasks(settings: Settings) -> None:
    started = runtime.start_vision(settings, STAND_IN)
    try:
        assert isinstance(started.vision_stage().pipeline, MeanColourPipeline)
        assert started.vision_stage().pipeline.batches == 1  # the warm-up batch ran before any task
        assert started.vision_stage().min_side == MeanColourPipeline.min_side
        assert sum(started.store.counts_by_state().values()) == 0  # migrated: the jobs table is there
        with pytest.raises(ConfigError, match="no language stage"):
            started.caption_writer()
    finally:
        started.close()


def test_given_no_installed_runtime_then_tasks_are_told_how_workers_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runtime, "_current", None)
    with pytest.raises(ConfigError, match="pixels2posts worker"):
        runtime.current()


def test_given_a_stage_class_whose_dependency_is_missing_then_the_error_names_the_dependency(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "broken_stage.py").write_text("import p2p_missing_dependency\n\nclass Stage: ...\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ModuleNotFoundError, match="p2p_missing_dependency"):
        runtime.import_stage_class("broken_stage:Stage")


@pytest.mark.parametrize("path, problem", [
    ("tests.support.stand_in_vision:NoSuchClass", "has no 'NoSuchClass'"),
    ("tests.support.stand_in_vision", "module:Class"),
])
def test_given_a_badly_named_stage_class_then_the_error_says_which_part_is_wrong(path: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        runtime.import_stage_class(path)
