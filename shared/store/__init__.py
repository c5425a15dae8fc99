"""Durable jobs and results (SQLAlchemy 2): PostgreSQL in production, SQLite as the embedded default.

`migrate(url)` brings a database to the newest schema with the alembic migrations packaged here;
`migrate_when_reachable` first waits for a database that is not up yet.
"""

from shared.store.db import engine_for, migrate, migrate_when_reachable
from shared.store.models import Job, JobState
from shared.store.repository import (
    JobStore,
    NewJob,
    idempotency_key,
)

__all__ = [
    "Job", "JobState", "JobStore", "NewJob", "engine_for", "idempotency_key", "migrate", "migrate_when_reachable",
]
