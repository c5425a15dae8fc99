"""`pixels2posts up`: the name the embedded LLM answers under, which results record as `provenance.llm`."""

from __future__ import annotations

from pathlib import Path

import pytest

from pixels2posts.cli.stack import _stack_env
from shared.settings import Settings
from workers.language.local_llm import local_llm_available

pytestmark = pytest.mark.skipif(not local_llm_available(), reason="the llm extra is not installed")


def _env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **extra: str) -> dict[str, str]:
    for key, value in {"P2P_BROKER_URL": "redis://127.0.0.1:1/0",  # set: up starts no Redis of its own
                       "P2P_DATABASE_URL": f"sqlite:///{tmp_path / 'p2p.db'}", **extra}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("P2P_LLM_BASE_URL", raising=False)
    settings = Settings(data_dir=tmp_path, blob_dir=tmp_path / "blobs")
    env, state = _stack_env(settings, tmp_path, redis_port=1, llm_port=8081)
    assert state["llm_started"]
    return env


def test_given_the_embedded_llm_with_its_bundled_adapter_when_up_then_the_workers_name_both(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("P2P_LLM_MODEL", raising=False)
    env = _env(monkeypatch, tmp_path, P2P_LLM_LORA="bundled")
    assert env["P2P_LLM_MODEL"] == "smollm2-135m-instruct+smollm2-135m-instruct-caption-lora"


def test_given_a_model_name_configured_when_up_then_it_is_kept(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    env = _env(monkeypatch, tmp_path, P2P_LLM_MODEL="my-name", P2P_LLM_LORA="")
    assert env["P2P_LLM_MODEL"] == "my-name"
