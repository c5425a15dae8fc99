"""A resubmission after the job has finished, through the real API and workers: the shop's new `callback_url` is
honoured (the finished result is delivered there at once, under its own delivery id), never silently dropped, and
the job is not run again."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from shared.ports import free_port
from shared.store import JobStore
from tests.faults.conftest import KEY, Receiver, stack_env
from tests.faults.procs import api_up, running, wait_for
from tests.faults.test_kills import api, language, vision
from tests.support import fake_openai
from tests.support.helpers import jpeg_bytes

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def post(base: str, callback_url: str) -> httpx.Response:
    return httpx.post(f"{base}/v1/jobs", headers={"X-API-Key": KEY}, timeout=30,
                      files={"image": ("p.jpg", jpeg_bytes(7, (96, 128)), "image/jpeg")},
                      data={"sku": "F-RESUBMIT", "callback_url": callback_url})


def test_given_a_finished_job_when_resubmitted_with_a_new_callback_then_the_result_is_delivered_there_too(
    redis_url: str, pg_schema_url: str, tmp_path: Path, logs: Path, llm: fake_openai.FakeOpenAI, receiver: Receiver
) -> None:
    env = stack_env(redis_url, pg_schema_url, tmp_path, llm.url)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with running(api(env, logs, port), vision("vision@r1", env, logs), language("language@r1", env, logs)):
        wait_for(lambda: api_up(base), 90, "the API")
        # Given a job that finished and delivered its webhook to the first URL
        first = post(base, receiver.url)
        assert first.status_code == 202, first.text
        job_id = first.json()["job_id"]
        wait_for(lambda: receiver.paths.get(job_id) == ["/hook"], 120, "the first webhook")
        store = JobStore(pg_schema_url)
        done = store.get(job_id)
        assert done is not None and done.state == "succeeded"
        llm_calls = len(llm.requests)

        # When the shop submits the same photo and SKU again with a new callback URL
        again = post(base, receiver.url.replace("/hook", "/hook-2"))

        # Then it is the same job, and its result is delivered to the new URL under a new delivery id
        assert again.status_code == 200, again.text
        assert again.json()["job_id"] == job_id and again.json()["duplicate"] is True
        wait_for(lambda: receiver.paths.get(job_id) == ["/hook", "/hook-2"], 60, "the webhook to the new URL")
        assert len(receiver.deliveries[job_id]) == 2
        time.sleep(2)  # nothing more arrives and the job is not run again
        assert receiver.paths[job_id] == ["/hook", "/hook-2"]
        assert len(llm.requests) == llm_calls
        after = store.get(job_id)
        assert after is not None and after.state == "succeeded" and after.result == done.result
