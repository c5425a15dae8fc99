"""The continuous-batching embedded LLM (`workers.language.batched_llm`): the real server on the bundled GGUF,
started by the project's launcher with P2P_LLM_SERVER=batched, four sequences and one thread.

Answers are kept tiny (a few tokens, or a grammar with enums) so the module runs in well under a minute on 2 cores.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from shared.schemas import EvidencePack
from shared.settings import Settings
from workers.language.grounding import Evidence
from workers.language.llm_client import LLMClient
from workers.language.local_llm import local_llm_available, local_llm_command, running_local_llm
from workers.language.prompt import OUTPUT_SCHEMA, build_messages

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not local_llm_available(), reason="the llm extra (llama-cpp-python + GGUF) is not installed"),
]

SCHEMA = {
    "type": "object",
    "properties": {
        "colour": {"type": "string", "enum": ["black", "white", "red", "blue", "green"]},
        "garment": {"type": "string", "enum": ["dress", "shirt", "jeans", "coat", "shoes"]},
        "formal": {"type": "boolean"},
    },
    "required": ["colour", "garment", "formal"],
}
SYSTEM = "You describe clothes in photos for a fashion shop. Answer briefly."


def ask(base_url: str, text: str, **fields: Any) -> httpx.Response:
    body = {"messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": text}], **fields}
    return httpx.post(f"{base_url}/chat/completions", json=body, timeout=120)


def content(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    return str(response.json()["choices"][0]["message"]["content"])


@pytest.fixture(scope="module")
def batched() -> Iterator[Settings]:
    settings = Settings(llm_server="batched", llm_parallel_slots=4, llm_threads=1, llm_timeout_s=120.0)
    with running_local_llm(settings) as local:
        yield local


def test_given_the_batched_setting_then_the_launcher_starts_the_batched_server() -> None:
    command = local_llm_command(8081, Settings(llm_server="batched", llm_parallel_slots=3, llm_threads=1))
    assert command[1:3] == ["-m", "workers.language.batched_llm"]
    assert command[command.index("--slots") + 1] == "3" and command[command.index("--threads") + 1] == "1"


def test_given_concurrent_requests_with_a_json_schema_then_all_answer_json_that_matches_it(batched: Settings) -> None:
    # Given six requests (more than the four sequences) asking for a json_schema answer
    fmt = {"type": "json_schema", "json_schema": {"name": "garment", "schema": SCHEMA, "strict": True}}
    texts = ["A red evening dress", "Blue denim jeans", "A black wool coat", "White running shoes",
             "A green office shirt", "A white summer dress"]
    # When they are sent at once
    with ThreadPoolExecutor(len(texts)) as pool:
        replies = list(pool.map(lambda t: ask(batched.llm_base_url, t, max_tokens=64, temperature=0.3, seed=7,
                                              response_format=fmt), texts))
    # Then every one completes with JSON that the schema accepts, and usage counts its tokens
    for reply in replies:
        text = content(reply)
        assert text.lstrip().startswith("{"), reply.json()
        data = json.loads(text)
        assert set(data) == {"colour", "garment", "formal"}
        assert data["colour"] in SCHEMA["properties"]["colour"]["enum"]  # type: ignore[index]
        assert data["garment"] in SCHEMA["properties"]["garment"]["enum"]  # type: ignore[index]
        assert isinstance(data["formal"], bool)
        body = reply.json()
        assert body["object"] == "chat.completion" and body["model"] == batched.llm_model
        assert body["choices"][0]["finish_reason"] in ("stop", "length")  # the grammar allows trailing whitespace
        assert body["usage"]["prompt_tokens"] > 0 and body["usage"]["completion_tokens"] > 0


def test_given_the_caption_prompt_when_the_project_client_asks_then_json_schema_is_taken(
    batched: Settings, office_pack: EvidencePack
) -> None:
    # Given the language stage's own client and prompt; When it asks the batched server
    client = LLMClient(batched)
    reply = client.complete(build_messages(office_pack, Evidence.of(office_pack)), OUTPUT_SCHEMA)
    # Then OpenAI's json_schema format is accepted (no downgrade) and the answer parses as a Draft
    assert reply.draft.caption and client.structured_mode == "json_schema"


def test_given_greedy_decoding_then_the_answer_alone_matches_the_answer_alongside_others(batched: Settings) -> None:
    """Greedy answers of one request alone and in a batch of four.

    llama.cpp does not promise bit-identical logits across batch compositions: on CPU the matrix kernels for one
    token and for several sum in different orders, and the request's KV cells sit elsewhere in the shared buffer, so
    SIMD lanes group the attention sums differently. That moves logits by float rounding, which changes a greedy
    pick only at a near-tie, and the near-ties here are the JSON grammar's interchangeable whitespace ('"red",' or
    '"red", '): seen in about one run of three. What holds, and is asserted: alone twice is identical (same
    composition, same cache), and in the batch the answer is the same JSON value. Exact text equality is printed."""
    fmt = {"type": "json_schema", "json_schema": {"name": "garment", "schema": SCHEMA}}
    request = {"max_tokens": 64, "temperature": 0, "response_format": fmt}
    text = "A red evening dress with long sleeves"
    # Given the request sent alone (after one warm-up, so its prompt prefix is in the cache each time)
    content(ask(batched.llm_base_url, text, **request))
    alone = [content(ask(batched.llm_base_url, text, **request)) for _ in range(2)]
    # When it is sent again together with three other requests
    others = ["Blue denim jeans", "A black wool coat", "White running shoes"]
    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(ask, batched.llm_base_url, t, **request) for t in [text, *others]]
        together = content(futures[0].result())
        assert all(f.result().status_code == 200 for f in futures)
    # Then: alone is deterministic, and in the batch the answer is the same JSON (whitespace may differ, see above)
    assert alone[0] == alone[1]
    assert json.loads(together) == json.loads(alone[0])
    print(f"greedy alone {alone[0]!r}, in a batch of 4 {together!r}, identical: {together == alone[0]}")


def test_given_max_tokens_and_stop_then_generation_ends_there(batched: Settings) -> None:
    url, text = batched.llm_base_url, "Name five colours of summer dresses, separated by commas."
    # Given the greedy answer without limits (after a warm-up, so both calls meet the same cache)
    content(ask(url, text, max_tokens=24, temperature=0))
    full = content(ask(url, text, max_tokens=24, temperature=0))
    # When max_tokens is 3
    short = ask(url, text, max_tokens=3, temperature=0)
    # Then exactly 3 tokens are written, for reason "length"
    assert short.json()["usage"]["completion_tokens"] == 3 and short.json()["choices"][0]["finish_reason"] == "length"
    assert full.startswith(content(short))
    # When a stop string that occurs in the answer is given
    stop = next(word for word in full.split() if len(word) > 3)
    stopped = ask(url, text, max_tokens=24, temperature=0, stop=[stop])
    # Then the answer ends just before it, for reason "stop"
    assert content(stopped) == full[: full.index(stop)]
    assert stopped.json()["choices"][0]["finish_reason"] == "stop"


def test_given_a_long_request_running_when_a_short_one_arrives_then_the_short_one_finishes_first(
    batched: Settings,
) -> None:
    url = batched.llm_base_url
    # a grammar that forbids closing the string before 400 characters: the long request runs all its max_tokens
    long_format = {"type": "json_schema", "json_schema": {"name": "story", "schema": {
        "type": "object", "properties": {"story": {"type": "string", "minLength": 400}}, "required": ["story"]}}}
    finished: dict[str, float] = {}
    replies: dict[str, httpx.Response] = {}

    def run(name: str, **fields: Any) -> None:
        replies[name] = ask(url, "Tell me a story about a coat.", **fields)
        finished[name] = time.monotonic()

    # Given a long request that has started generating
    long_thread = threading.Thread(target=run, args=("long",), kwargs={
        "max_tokens": 80, "temperature": 0.7, "seed": 1, "response_format": long_format})
    long_thread.start()
    deadline = time.monotonic() + 60
    while httpx.get(f"{url.removesuffix('/v1')}/health", timeout=5).json()["busy"] < 1:
        assert time.monotonic() < deadline, "the long request never started"
        time.sleep(0.05)
    time.sleep(0.3)
    # When a short request is sent after it
    run("short", max_tokens=2, temperature=0)
    long_thread.join(120)
    # Then the short one is answered first, while the long one still runs to its full length
    assert finished["short"] < finished["long"]
    assert replies["long"].json()["usage"]["completion_tokens"] == 80
    assert replies["long"].json()["choices"][0]["finish_reason"] == "length"
    assert replies["short"].json()["usage"]["completion_tokens"] == 2


@pytest.mark.parametrize(("body", "param"), [
    ({"max_tokens": 4}, "messages"),
    ({"messages": [{"role": "user", "content": "hi"}], "response_format": {"type": "xml"}}, "response_format"),
    ({"messages": [{"role": "user", "content": "hi"}], "response_format": {"type": "json_schema"}},
     "response_format"),
    ({"messages": [{"role": "user", "content": "hi"}], "stream": True}, "stream"),
    ({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 0}, "max_tokens"),
])
def test_given_a_bad_request_then_a_400_json_error_and_the_server_keeps_serving(
    batched: Settings, body: dict[str, Any], param: str
) -> None:
    # Given a request the server cannot serve; When it is posted
    reply = httpx.post(f"{batched.llm_base_url}/chat/completions", json=body, timeout=30)
    # Then it is refused with an OpenAI-shaped error naming the field
    assert reply.status_code == 400
    assert reply.json()["error"]["param"] == param and param in reply.json()["error"]["message"]
    # And the next good request is served
    assert content(ask(batched.llm_base_url, "Say yes.", max_tokens=2, temperature=0))


def test_given_a_body_that_is_not_json_or_an_unknown_route_then_json_errors(batched: Settings) -> None:
    url = batched.llm_base_url
    not_json = httpx.post(f"{url}/chat/completions", content=b"{oops", timeout=30)
    unknown = httpx.get(f"{url}/engines", timeout=30)
    assert not_json.status_code == 400 and "error" in not_json.json()
    assert unknown.status_code == 404 and "error" in unknown.json()
    assert httpx.get(f"{url}/models", timeout=30).json()["data"][0]["id"] == batched.llm_model


def test_given_a_client_that_leaves_when_its_answer_is_long_then_its_sequence_is_freed(batched: Settings) -> None:
    url = batched.llm_base_url
    health = f"{url.removesuffix('/v1')}/health"
    story = {"type": "json_schema", "json_schema": {"name": "story", "schema": {
        "type": "object", "properties": {"story": {"type": "string", "minLength": 9000}}, "required": ["story"]}}}
    body = {"messages": [{"role": "user", "content": "Tell me a long story about a coat."}], "max_tokens": 1900,
            "temperature": 0.7, "seed": 3, "response_format": story}
    # Given a request whose grammar keeps it generating for 1,900 tokens (15 s or more on 2 cores; a string of at
    # least 9,000 characters, about 2,000 tokens, must come before the closing quote)
    started = time.monotonic()
    # When its client gives up after two seconds
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{url}/chat/completions", json=body, timeout=httpx.Timeout(30, read=2))
    # Then the server stops generating it: no sequence is busy within a few polls, long before 1,900 tokens
    deadline = time.monotonic() + 4
    while httpx.get(health, timeout=5).json()["busy"] > 0:
        assert time.monotonic() < deadline, "the abandoned request kept its sequence"
        time.sleep(0.1)
    assert time.monotonic() - started < 7
    # And the next request is served
    assert content(ask(url, "Say yes.", max_tokens=2, temperature=0))


def test_given_the_same_prompt_prefix_then_the_second_request_starts_from_the_cached_one(batched: Settings) -> None:
    # Given a request with a long fixed system part, answered once
    system = SYSTEM + " " + " ".join(f"Rule {n}: describe only what is in the photo." for n in range(20))

    def send(text: str) -> httpx.Response:
        body = {"messages": [{"role": "system", "content": system}, {"role": "user", "content": text}],
                "max_tokens": 3, "temperature": 0}
        return httpx.post(f"{batched.llm_base_url}/chat/completions", json=body, timeout=120)

    first = send("A red coat.")
    # When a request with the same system part and another question follows
    second = send("A blue dress.")
    # Then most of its prompt came from the cache, not from a new evaluation
    usage = second.json()["usage"]
    assert first.status_code == 200 and second.status_code == 200
    assert usage["prompt_tokens_details"]["cached_tokens"] >= 0.8 * usage["prompt_tokens"], usage


def test_given_the_default_settings_then_the_launcher_starts_8_batched_sequences_on_every_core() -> None:
    import os

    fields = Settings.model_fields
    assert (fields["llm_server"].default, fields["llm_parallel_slots"].default, fields["llm_threads"].default) == (
        "batched", 0, 0)
    command = local_llm_command(8081, Settings(llm_server="batched", llm_parallel_slots=0, llm_threads=0))
    assert command[1:3] == ["-m", "workers.language.batched_llm"]
    assert command[command.index("--slots") + 1] == "8"
    assert command[command.index("--threads") + 1] == str(len(os.sched_getaffinity(0)))
    processes = local_llm_command(8081, Settings(llm_server="processes", llm_parallel_slots=0))
    assert processes[1:3] == ["-m", "workers.language.local_llm_pool"]
    assert processes[processes.index("--slots") + 1] == "2"


def test_given_workers_on_the_same_cores_then_the_stack_leaves_them_one() -> None:
    import os

    from workers.language.local_llm import beside_workers

    cores = len(os.sched_getaffinity(0))
    assert beside_workers(Settings(llm_server="batched", llm_threads=0)).llm_threads == max(1, cores - 1)
    assert beside_workers(Settings(llm_server="batched", llm_threads=3)).llm_threads == 3
    assert beside_workers(Settings(llm_server="processes", llm_threads=0)).llm_threads == 0
