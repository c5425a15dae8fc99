"""The OpenAI-compatible client against our own fault-injecting HTTP server."""

from __future__ import annotations

import time

import pytest

from shared.errors import LLMUnavailableError
from shared.settings import Settings
from tests.support import fake_openai
from tests.support.fake_openai import MALFORMED, REFUSE_JSON_SCHEMA, STALL, FakeOpenAI, answer, status
from workers.language.llm_client import LLMClient, LLMOutputError, LLMRequestRejectedError, parse_draft
from workers.language.prompt import OUTPUT_SCHEMA

MESSAGES = [{"role": "user", "content": "EVIDENCE\ngarments: jacket (navy)"}]


def _client(settings: Settings) -> LLMClient:
    return LLMClient(settings, backoff_s=0.01)


def test_given_429_then_500_when_called_then_it_retries_and_returns_the_answer(
    fake_llm: FakeOpenAI, fake_settings: Settings
) -> None:
    fake_llm.queue(status(429), status(500), answer("A navy jacket.", ["#navyjacket"]))
    reply = _client(fake_settings).complete(MESSAGES, OUTPUT_SCHEMA)
    assert reply.draft.caption == "A navy jacket." and reply.draft.hashtags == ["#navyjacket"]
    assert reply.retries == 2 and len(fake_llm.requests) == 3
    assert reply.prompt_tokens > 0 and reply.completion_tokens > 0


def test_given_a_retry_after_header_when_429_then_the_client_waits_that_long(
    fake_llm: FakeOpenAI, fake_settings: Settings
) -> None:
    fake_llm.queue(status(429, retry_after=0.4), answer("A navy jacket."))
    _client(fake_settings).complete(MESSAGES, OUTPUT_SCHEMA)
    first, second = fake_llm.requests
    assert second.at - first.at >= 0.4


def test_given_a_persistent_503_when_called_then_it_gives_up_after_the_configured_retries(
    fake_llm: FakeOpenAI, fake_settings: Settings
) -> None:
    fake_llm.default = status(503)
    with pytest.raises(LLMUnavailableError):
        _client(fake_settings).complete(MESSAGES, OUTPUT_SCHEMA)
    assert len(fake_llm.requests) == 1 + fake_settings.llm_max_retries


@pytest.mark.parametrize("code", [400, 401, 404, 422])
def test_given_a_client_error_when_called_then_it_is_not_retried(
    fake_llm: FakeOpenAI, fake_settings: Settings, code: int
) -> None:
    fake_llm.default = status(code)
    with pytest.raises(LLMRequestRejectedError):
        _client(fake_settings).complete(MESSAGES, OUTPUT_SCHEMA)
    assert len(fake_llm.requests) == 1


def test_given_a_stalled_server_when_called_then_it_times_out_and_retries(
    fake_llm: FakeOpenAI, fake_settings: Settings
) -> None:
    fake_llm.queue(STALL, answer("A navy jacket."))
    started = time.monotonic()
    reply = _client(fake_settings).complete(MESSAGES, OUTPUT_SCHEMA)
    assert reply.retries == 1
    assert 1.0 <= time.monotonic() - started < 2.9  # the 1 s timeout, not the 3 s stall


def test_given_a_dead_endpoint_when_called_then_it_is_unavailable() -> None:
    settings = Settings(llm_base_url="http://127.0.0.1:9/v1", llm_max_retries=1, llm_timeout_s=1.0)
    with pytest.raises(LLMUnavailableError):
        _client(settings).complete(MESSAGES, OUTPUT_SCHEMA)


def test_given_malformed_json_when_called_then_an_output_error_is_raised(
    fake_llm: FakeOpenAI, fake_settings: Settings
) -> None:
    fake_llm.queue(MALFORMED)
    with pytest.raises(LLMOutputError):
        _client(fake_settings).complete(MESSAGES, OUTPUT_SCHEMA)


def test_given_a_server_without_json_schema_when_called_then_it_falls_back_to_json_object_and_remembers(
    fake_llm: FakeOpenAI, fake_settings: Settings
) -> None:
    fake_llm.default = REFUSE_JSON_SCHEMA
    client = _client(fake_settings)
    assert client.complete(MESSAGES, OUTPUT_SCHEMA).draft.caption == "A navy jacket."
    formats = [r.body.get("response_format", {}).get("type") for r in fake_llm.requests]
    assert formats == ["json_schema", "json_object"]
    assert fake_llm.requests[1].body["response_format"]["schema"] == OUTPUT_SCHEMA
    _client(fake_settings).complete(MESSAGES, OUTPUT_SCHEMA)  # a new client on the same endpoint
    assert fake_llm.requests[2].body["response_format"]["type"] == "json_object"


def test_given_a_rate_limit_when_called_five_times_then_calls_are_spaced(fake_llm: FakeOpenAI) -> None:
    settings = Settings(llm_base_url=fake_llm.url, llm_rate_limit_per_s=10.0)
    client = _client(settings)
    client.complete(MESSAGES, OUTPUT_SCHEMA)  # warm-up: the first connection's set-up delays its arrival
    for _ in range(5):
        client.complete(MESSAGES, OUTPUT_SCHEMA)
    times = [r.at for r in fake_llm.requests[1:]]
    # 4 gaps of 0.1 s; without the limiter 5 local calls take a few ms. Slack for a loaded 2-core machine.
    assert times[-1] - times[0] >= 0.3


@pytest.mark.parametrize(
    "content",
    ['```json\n{"caption": "A navy jacket.", "hashtags": []}\n```', 'Sure! {"caption": "A navy jacket."}'],
)
def test_given_wrapped_json_when_parsed_then_the_object_is_found(content: str) -> None:
    assert parse_draft(content).caption == "A navy jacket."


@pytest.mark.parametrize(
    "content",
    ["", "no json here", '{"caption": 3, "hashtags": []}', '{"hashtags": ["#a"]}', '{"caption": ""}',
     '{"caption": "x", "hashtags": "#a"}'],
)
def test_given_bad_content_when_parsed_then_it_is_rejected(content: str) -> None:
    with pytest.raises(LLMOutputError):
        parse_draft(content)


def test_fake_server_module_is_importable_as_a_tool() -> None:
    state, server = fake_openai.start()
    try:
        assert state.url.startswith("http://127.0.0.1:")
    finally:
        server.shutdown()
        server.server_close()
