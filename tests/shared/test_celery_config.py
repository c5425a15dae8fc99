"""The Celery configuration the design requires, checked on the app workers and Flower import; the producer's
side of the contract (`shared.celery_config`) builds no app at import."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import sqlalchemy.exc

from pixels2posts.cli import stack
from shared.celery_config import SOFT_SHUTDOWN_S, create_app
from shared.errors import ConfigError
from shared.settings import Settings
from workers.celery_app import app


def test_given_the_app_then_json_only_late_acks_events_and_one_visibility_timeout() -> None:
    conf = app.conf
    assert conf.task_serializer == conf.result_serializer == "json"
    assert conf.accept_content == conf.result_accept_content == ["json"]
    assert conf.task_acks_late and conf.task_reject_on_worker_lost
    assert conf.worker_send_task_events and conf.task_send_sent_event
    assert conf.worker_soft_shutdown_timeout == SOFT_SHUTDOWN_S == stack.SOFT_SHUTDOWN_S  # `down` waits for it
    visibility = conf.broker_transport_options["visibility_timeout"]
    assert visibility == conf.result_backend_transport_options["visibility_timeout"] == Settings().visibility_timeout_s
    assert {route["queue"] for route in conf.task_routes.values()} == {"vision", "language"}
    app.loader.import_default_modules()  # what a worker does on start: import the task modules
    assert {"p2p.vision", "p2p.language", "p2p.webhook"} <= set(app.tasks)
    for name in ("p2p.vision", "p2p.language"):  # a database or broker outage retries, it does not fail jobs
        assert sqlalchemy.exc.OperationalError in app.tasks[name].autoretry_for
        assert app.tasks[name].max_retries == 5


def test_given_llm_timeouts_longer_than_the_visibility_timeout_then_the_app_refuses_to_start() -> None:
    with pytest.raises(ConfigError, match="VISIBILITY_TIMEOUT"):
        create_app(Settings(visibility_timeout_s=60, llm_timeout_s=30, llm_max_retries=1, llm_max_attempts=1))
    create_app(Settings(visibility_timeout_s=61, llm_timeout_s=30, llm_max_retries=0, llm_max_attempts=2))


def test_given_a_contradictory_environment_then_only_building_an_app_fails_not_importing_the_contract() -> None:
    env = {**os.environ, "P2P_VISIBILITY_TIMEOUT_S": "60", "P2P_LLM_TIMEOUT_S": "30", "P2P_LLM_MAX_RETRIES": "1",
           "P2P_LLM_MAX_ATTEMPTS": "1"}
    imports = "import shared.celery_config, producer.service, producer.api, pixels2posts.cli.stack"
    subprocess.run([sys.executable, "-c", imports], env=env, check=True, timeout=120)
    worker_app = subprocess.run([sys.executable, "-c", "import workers.celery_app"], env=env, capture_output=True,
                                text=True, timeout=120)
    assert worker_app.returncode != 0 and "P2P_VISIBILITY_TIMEOUT_S=60 must exceed" in worker_app.stderr
