"""Settings are documented in one place, generated from the code: README's table and `.env.example` never drift."""

from __future__ import annotations

import pytest

from scripts.settings_doc import env_example, markdown_table
from scripts.update_readme import readme_with_table
from shared.settings import Settings, get_settings
from tests.conftest import REPO_ROOT


def test_readme_settings_table_is_generated_from_the_code() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    assert readme_with_table(readme) == readme, "run `python -m scripts.update_readme`"
    assert markdown_table() in readme


def test_env_example_is_generated_from_the_code() -> None:
    assert (REPO_ROOT / ".env.example").read_text() == env_example(), "run `python -m scripts.update_readme`"


def test_every_setting_reads_its_prefixed_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("P2P_BATCH_SIZE", "32")
    monkeypatch.setenv("P2P_LLM_BASE_URL", "http://llm.example:9000/v1")
    settings = Settings()
    assert settings.batch_size == 32
    assert settings.llm_base_url == "http://llm.example:9000/v1"


def test_given_an_invalid_value_when_settings_load_then_the_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("P2P_BATCH_SIZE", "0")
    with pytest.raises(ValueError, match="batch_size"):
        Settings()
    get_settings.cache_clear()
