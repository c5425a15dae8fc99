"""The contract between the producer and the workers: task names, queue routes and the Celery configuration.

Both sides import this module and nothing of each other. It builds no app at import: `create_app(settings)` makes
one from the settings it is given (the API's to send tasks by name; `workers.celery_app` adds the task modules)."""

from __future__ import annotations

from collections.abc import Sequence

from celery import Celery

from shared.errors import ConfigError
from shared.settings import Settings

VISION_TASK = "p2p.vision"
LANGUAGE_TASK = "p2p.language"
WEBHOOK_TASK = "p2p.webhook"

# how long a warm shutdown lets running tasks finish before their messages go back to the queue
SOFT_SHUTDOWN_S = 30.0


def language_task_budget_s(settings: Settings) -> float:
    """The longest a language task can run: every generation attempt with all its retries timing out."""
    return settings.llm_timeout_s * (settings.llm_max_retries + 1) * settings.llm_max_attempts


def vision_task_budget_s(settings: Settings) -> float:
    """How long a vision task waits for its batch: a fixed share of the visibility timeout."""
    return settings.visibility_timeout_s / 2


def check_visibility_timeout(settings: Settings) -> None:
    """A task still running when the visibility timeout expires is delivered again: refuse such a setup."""
    longest = max(language_task_budget_s(settings), vision_task_budget_s(settings))
    needed = longest + settings.batch_wait_ms / 1000
    if settings.visibility_timeout_s <= needed:
        raise ConfigError(
            f"P2P_VISIBILITY_TIMEOUT_S={settings.visibility_timeout_s} must exceed the longest task "
            f"plus the batch wait ({needed:.0f}s: LLM timeout x retries x attempts); "
            "raise it or lower the LLM timeouts"
        )


def task_routes(settings: Settings) -> dict[str, dict[str, str]]:
    """Which queue each task goes to (the webhook shares the CPU pool of the language stage)."""
    return {
        VISION_TASK: {"queue": settings.vision_queue},
        LANGUAGE_TASK: {"queue": settings.language_queue},
        WEBHOOK_TASK: {"queue": settings.language_queue},
    }


def celery_config(settings: Settings) -> dict[str, object]:
    visibility = {"visibility_timeout": settings.visibility_timeout_s}
    # messages of a worker that died (SIGKILL, lost node) come back once the visibility timeout has passed;
    # kombu looks for them every interval x throttle seconds (100 s by default): every 10 s here
    restore = {"unacked_restore_interval": 10, "unacked_restore_throttle": 1}
    return {
        "broker_url": settings.broker_url,
        "result_backend": settings.celery_result_backend,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "result_accept_content": ["json"],
        "event_serializer": "json",
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "broker_transport_options": {**visibility, **restore},
        "result_backend_transport_options": visibility,
        "task_routes": task_routes(settings),
        "task_default_queue": settings.language_queue,
        "task_track_started": True,
        "worker_send_task_events": True,
        "task_send_sent_event": True,
        "worker_soft_shutdown_timeout": SOFT_SHUTDOWN_S,
        "worker_enable_soft_shutdown_on_idle": True,
        "worker_hijack_root_logger": False,
        "broker_connection_retry_on_startup": True,
        "result_expires": 24 * 3600,  # the durable result is the SQL row; this is for Flower and debugging
        "timezone": "UTC",
    }


def create_app(settings: Settings, *, include: Sequence[str] = ()) -> Celery:
    """A configured Celery app; `include` names the task modules a worker imports on start."""
    check_visibility_timeout(settings)
    celery = Celery("pixels2posts", include=list(include))
    celery.conf.update(celery_config(settings))
    return celery
