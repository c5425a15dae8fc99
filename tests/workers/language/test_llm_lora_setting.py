"""P2P_LLM_LORA: the argv of every embedded server carries the adapter, "bundled" resolves to the committed one of the
embedded SmolLM2 only, and a missing file is named (llama.cpp applying it: tests/training/test_llm_lora.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.errors import ModelNotAvailableError
from shared.settings import Settings
from workers.language.local_llm import embedded_name, local_llm_available, local_llm_command, lora_file

pytestmark = pytest.mark.skipif(not local_llm_available(),
                                reason="the llm extra (llama-cpp-python + GGUF) is not installed")


def test_given_an_adapter_setting_when_a_server_is_launched_then_its_argv_carries_the_adapter(tmp_path: Path) -> None:
    adapter = str(tmp_path / "caption-lora.gguf")
    Path(adapter).write_bytes(b"GGUF")
    batched = local_llm_command(8081, Settings(llm_server="batched", llm_lora=adapter))
    processes = local_llm_command(8081, Settings(llm_server="processes", llm_parallel_slots=2, llm_lora=adapter))
    single = local_llm_command(8081, Settings(llm_server="processes", llm_parallel_slots=1, llm_lora=adapter))
    assert batched[batched.index("--lora") + 1] == adapter
    assert processes[processes.index("--lora") + 1] == adapter
    assert single[single.index("--lora_path") + 1] == adapter
    assert "--lora" not in local_llm_command(8081, Settings(llm_server="batched", llm_lora=""))
    assert embedded_name(Settings(llm_lora=adapter)) == "smollm2-135m-instruct+caption-lora"


def test_given_bundled_then_the_embedded_smollm2_gets_the_committed_adapter_and_other_models_none() -> None:
    bundled = Settings(llm_lora="bundled")
    assert Path(lora_file(bundled)).name == "smollm2-135m-instruct-caption-lora.gguf"
    assert Path(lora_file(bundled)).is_file()
    assert lora_file(bundled.model_copy(update={"llm_embedded_model": "gemma-3-270m"})) == ""
    assert lora_file(Settings()) == lora_file(bundled)  # the default (models/llm/MODEL_CARD.md)
    assert lora_file(Settings(llm_lora="")) == ""


def test_given_a_missing_adapter_file_then_the_launcher_says_which(tmp_path: Path) -> None:
    with pytest.raises(ModelNotAvailableError, match="no adapter file"):
        local_llm_command(8081, Settings(llm_lora=str(tmp_path / "absent.gguf")))
    # a models folder without the bundled adapter (an image built without models/llm) is named too, never skipped
    with pytest.raises(ModelNotAvailableError, match="is missing"):
        local_llm_command(8081, Settings(llm_lora="bundled", models_dir=tmp_path))
