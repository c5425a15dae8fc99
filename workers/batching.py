"""An in-process micro-batcher: concurrent callers submit one item each; a single thread gathers up to
`max_size` items (or waits `max_wait_s` after the first), runs the batch function once, and resolves
each caller's future.

With `runners` > 1, up to that many batches run at once (each on its own thread): while one batch is inside
a model (ONNX Runtime releases the GIL), another does its numpy/Pillow work, so a CPU with several cores or
a GPU with a CPU feeding it stays busy. A batch is gathered only when a runner is free, so batches still fill
up while all runners are busy.

If a batch raises, its items are run one by one so a bad item fails only its own caller."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

In = TypeVar("In")
Out = TypeVar("Out")

@dataclass
class _Pending(Generic[In, Out]):
    item: In
    future: Future[Out]


class BatcherClosedError(RuntimeError):
    pass


class MicroBatcher(Generic[In, Out]):
    def __init__(
        self,
        run_batch: Callable[[Sequence[In]], Sequence[Out]],
        *,
        max_size: int,
        max_wait_s: float,
        on_batch: Callable[[int, float], None] | None = None,
        name: str = "micro-batcher",
        runners: int = 1,
    ) -> None:
        if max_size < 1:
            raise ValueError("max_size must be >= 1")
        if runners < 1:
            raise ValueError("runners must be >= 1")
        self.runners = runners
        self._free = threading.Semaphore(runners)
        self._pool = ThreadPoolExecutor(runners, thread_name_prefix=f"{name}-run")
        self._run_batch = run_batch
        self.max_size = max_size
        self.max_wait_s = max(0.0, max_wait_s)
        self._on_batch = on_batch
        self._queue: queue.Queue[_Pending[In, Out] | None] = queue.Queue()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def submit(self, item: In) -> Future[Out]:
        if self._closed.is_set():
            raise BatcherClosedError("the batcher is closed")
        future: Future[Out] = Future()
        self._queue.put(_Pending(item, future))
        return future

    def close(self, timeout: float = 10.0) -> None:
        """Finish what was submitted, then stop the batching thread."""
        self._closed.set()
        self._queue.put(None)
        self._thread.join(timeout)

    def _loop(self) -> None:
        while True:
            self._free.acquire()  # gather only when a runner can take the batch
            first = self._queue.get()
            if first is None:
                break
            batch = [first, *self._gather_more()]
            stop = batch[-1] is None
            self._pool.submit(self._run_and_free, [pending for pending in batch if pending is not None])
            if stop:
                break
        self._pool.shutdown(wait=True)

    def _run_and_free(self, batch: list[_Pending[In, Out]]) -> None:
        try:
            self._run(batch)
        finally:
            self._free.release()

    def _gather_more(self) -> list[_Pending[In, Out] | None]:
        gathered: list[_Pending[In, Out] | None] = []
        deadline = time.monotonic() + self.max_wait_s
        while len(gathered) + 1 < self.max_size:
            remaining = deadline - time.monotonic()
            try:
                pending = self._queue.get(timeout=remaining) if remaining > 0 else self._queue.get_nowait()
            except queue.Empty:
                break
            gathered.append(pending)
            if pending is None:
                break
        return gathered

    def _run(self, batch: list[_Pending[In, Out]]) -> None:
        live = [pending for pending in batch if pending.future.set_running_or_notify_cancel()]
        if not live:
            return
        started = time.perf_counter()
        try:
            outputs = self._call([pending.item for pending in live])
        except Exception as exc:
            if len(live) == 1:
                self._fail(live[0], exc, started)
                return
            log.warning("a batch of %d failed; running its items one by one", len(live), exc_info=True)
            for pending in live:
                self._run_single(pending)
            return
        self._report(len(live), started)
        for pending, output in zip(live, outputs, strict=True):
            pending.future.set_result(output)

    def _call(self, items: list[In]) -> Sequence[Out]:
        outputs = self._run_batch(items)
        if len(outputs) != len(items):
            raise RuntimeError(f"batch function returned {len(outputs)} results for {len(items)} items")
        return outputs

    def _run_single(self, pending: _Pending[In, Out]) -> None:
        started = time.perf_counter()
        try:
            (output,) = self._call([pending.item])
        except Exception as exc:
            self._fail(pending, exc, started)
            return
        self._report(1, started)
        pending.future.set_result(output)

    def _fail(self, pending: _Pending[In, Out], exc: Exception, started: float) -> None:
        self._report(1, started)
        pending.future.set_exception(exc)

    def _report(self, size: int, started: float) -> None:
        if self._on_batch is not None:
            self._on_batch(size, time.perf_counter() - started)
