"""The workers' Celery app, built from the environment: `workers.celery_app:app` (`pixels2posts worker`, Flower:
`celery -A workers.celery_app flower`). Names, routes and configuration come from `shared.celery_config`; the
producer builds its own app from the same module and never imports this one.

Importing it guards kombu's Redis transport so a worker survives its broker's death (`workers.kombu_compat`)."""

from __future__ import annotations

from shared.celery_config import create_app
from shared.settings import get_settings
from workers import kombu_compat

TASK_MODULES = ("workers.tasks.vision", "workers.tasks.language", "workers.tasks.webhook")

kombu_compat.install()
app = create_app(get_settings(), include=TASK_MODULES)
