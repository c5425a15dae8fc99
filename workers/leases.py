"""The worker side of job leases: a stage claims a job before working on it and a heartbeat thread renews the
leases of every job this process holds, so a live worker keeps its jobs however long an LLM call or a batch
takes, and a dead one (SIGKILL, lost node) loses them within `job_lease_s`: the reconciler then re-drives them
to another worker, long before the broker's visibility timeout would."""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from shared.store import JobStore

log = logging.getLogger(__name__)


def holder_name() -> str:
    """This process, as recorded on the jobs it holds."""
    return f"{socket.gethostname()}:{os.getpid()}"[:128]


class LeaseKeeper:
    def __init__(self, store: JobStore, lease_s: float, holder: str | None = None) -> None:
        self.store = store
        self.lease_s = lease_s
        self.holder = holder or holder_name()
        self._held: set[str] = set()
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="p2p-lease-heartbeat", daemon=True)
        self._thread.start()

    @contextmanager
    def holding(self, job_id: str) -> Iterator[None]:
        """Keep the lease on `job_id` alive while the block runs."""
        with self._lock:
            self._held.add(job_id)
        try:
            yield
        finally:
            with self._lock:
                self._held.discard(job_id)

    def _beat(self) -> None:
        while not self._stopped.wait(self.lease_s / 3):
            with self._lock:
                held = sorted(self._held)
            try:
                self.store.renew(held, self.holder, lease_s=self.lease_s)
            except Exception:  # the database away: the next beat tries again
                log.warning("could not renew %d job leases", len(held), exc_info=True)

    def stop(self) -> None:
        self._stopped.set()
