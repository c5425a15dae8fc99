"""Fixtures of the language-stage tests (the packs and the fake endpoint are shared: tests/conftest.py)."""

from __future__ import annotations

import pytest

from shared.settings import Settings
from tests.support import fake_openai


@pytest.fixture()
def fake_settings(fake_llm: fake_openai.FakeOpenAI) -> Settings:
    return Settings(
        llm_base_url=fake_llm.url,
        llm_model="fake-model",
        llm_timeout_s=1.0,
        llm_max_retries=2,
        llm_max_attempts=3,
        llm_rate_limit_per_s=1000.0,
    )
