"""The Celery workers of both stages and the code they run."""
