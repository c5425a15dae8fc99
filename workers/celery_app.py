"""The workers' Celery app, built from the environment: `workers.celery_app:app` (`pixels2posts worker`, Flower:
`celery -A workers.celery_app flower`). Names, routes and configuration come from `shared.celery_config`; the
producer builds its own app from the same module and never imports this one."""

from __future__ import annotations

from shared.celery_config import create_app
from shared.settings import get_settings

TASK_MODULES = ("workers.tasks.vision", "workers.tasks.language", "workers.tasks.webhook")

app = create_app(get_settings(), include=TASK_MODULES)
