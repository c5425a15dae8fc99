"""API metrics: jobs by state, read from the job store at scrape time."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from shared.store import JobStore


class JobStateCollector(Collector):
    def __init__(self, store: JobStore) -> None:
        self.store = store

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily("p2p_jobs", "Jobs in the store, by state.", labels=["state"])
        for state, count in self.store.counts_by_state().items():
            family.add_metric([state], count)
        yield family
