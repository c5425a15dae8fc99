"""Prometheus metrics of the workers and the API: jobs by outcome, stage latency, queue wait, batch
sizes, LLM."""

from __future__ import annotations

import logging
import threading

from prometheus_client import Counter, Histogram, start_http_server

log = logging.getLogger(__name__)

LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)

JOBS = Counter("p2p_jobs_total", "Jobs finished by a stage, by outcome.", ["stage", "outcome"])
STAGE_SECONDS = Histogram(
    "p2p_stage_seconds", "Time a stage spent on one job.", ["stage"], buckets=LATENCY_BUCKETS
)
QUEUE_WAIT_SECONDS = Histogram(
    "p2p_queue_wait_seconds", "Time a job waited in a stage's queue.", ["stage"], buckets=LATENCY_BUCKETS
)
BATCH_SIZE = Histogram("p2p_vision_batch_size", "Images per vision batch.", buckets=BATCH_BUCKETS)
BATCH_SECONDS = Histogram(
    "p2p_vision_batch_seconds", "Time of one batched vision call.", buckets=LATENCY_BUCKETS
)
LLM_ATTEMPTS = Counter("p2p_llm_attempts_total", "LLM generations tried.")
LLM_FALLBACKS = Counter("p2p_llm_fallbacks_total", "Results written by the deterministic fallback writer.")
WEBHOOKS = Counter("p2p_webhooks_total", "Webhook deliveries, by outcome.", ["outcome"])

_started: set[int] = set()
_lock = threading.Lock()


def serve_metrics(port: int, host: str = "127.0.0.1") -> bool:
    """Start this process's /metrics endpoint once. False when the port is taken (logged, not fatal)."""
    with _lock:
        if port in _started or port <= 0:
            return False
        try:
            start_http_server(port, addr=host)
        except OSError as exc:
            log.warning("metrics endpoint on %s:%s not started: %s", host, port, exc)
            return False
        _started.add(port)
        return True
