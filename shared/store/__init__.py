"""Durable jobs and results (SQLAlchemy 2): PostgreSQL in production, SQLite as the embedded default.

`migrate(url)` brings a database to the newest schema with the alembic migrations packaged here.
"""

from shared.store.db import engine_for, migrate
from shared.store.models import Job, JobState
from shared.store.repository import (
    JobStore,
    NewJob,
    idempotency_key,
)

__all__ = ["Job", "JobState", "JobStore", "NewJob", "engine_for", "idempotency_key", "migrate"]
