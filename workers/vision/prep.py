"""A batch's CPU preparation (resizes, scaling into the model tensors) spread over the cores its runner owns.

A batch runner owns `Settings.ort_threads_per_session` cores: its ONNX Runtime sessions use that many intra-op
threads, and while the runner prepares a batch its sessions are idle, so the preparation may use the same cores.
Pillow's resize and numpy's large array passes release the GIL, so threads do run in parallel. With one core per
runner (the default on a small CPU, where two runners overlap one batch's preparation with the other's models)
this is a plain loop: no pool, no hand-off.

Work is split into one contiguous chunk per thread (not one task per item: a task hand-off costs tens of
microseconds, as much as resizing a small crop).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")

_pools: dict[int, ThreadPoolExecutor] = {}
_lock = threading.Lock()


def _pool(threads: int) -> ThreadPoolExecutor:
    with _lock:
        if threads not in _pools:
            _pools[threads] = ThreadPoolExecutor(threads, thread_name_prefix=f"vision-prep{threads}")
        return _pools[threads]


def map_indices(function: Callable[[int], T], count: int, threads: int) -> list[T]:
    """[function(0), ..., function(count - 1)], computed in up to `threads` contiguous chunks at once."""
    threads = min(threads, count)
    if threads <= 1:
        return [function(i) for i in range(count)]
    bounds = [count * k // threads for k in range(threads + 1)]

    def chunk(k: int) -> list[T]:
        return [function(i) for i in range(bounds[k], bounds[k + 1])]

    # the calling thread takes the first chunk itself: one hand-off fewer, and no deadlock if the pool is busy
    futures = [_pool(threads - 1).submit(chunk, k) for k in range(1, threads)]
    results = chunk(0)
    for future in futures:
        results.extend(future.result())
    return results
