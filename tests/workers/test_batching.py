"""The micro-batcher: concurrent submissions share one batch call; a bad item fails only its own caller."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import pytest

from workers.batching import BatcherClosedError, MicroBatcher


class Doubler:
    """Records each batch it is called with; refuses negative numbers (a 'corrupt image')."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.lock = threading.Lock()

    def __call__(self, items: Sequence[int]) -> list[int]:
        with self.lock:
            self.batches.append(list(items))
        if any(item < 0 for item in items):
            raise ValueError("negative item")
        return [item * 2 for item in items]


def test_given_concurrent_callers_when_submitting_then_batches_fill_up_to_max_size() -> None:
    doubler = Doubler()
    batcher = MicroBatcher(doubler, max_size=8, max_wait_s=0.2)
    with ThreadPoolExecutor(24) as pool:
        results = list(pool.map(lambda n: batcher.submit(n).result(timeout=10), range(24)))
    batcher.close()
    assert results == [n * 2 for n in range(24)]
    assert max(len(batch) for batch in doubler.batches) == 8
    assert len(doubler.batches) <= 6
    assert sorted(n for batch in doubler.batches for n in batch) == list(range(24))


def test_given_a_lone_caller_when_nothing_else_comes_then_it_runs_after_the_wait() -> None:
    doubler = Doubler()
    sizes: list[int] = []
    batcher = MicroBatcher(doubler, max_size=8, max_wait_s=0.01, on_batch=lambda size, _s: sizes.append(size))
    assert batcher.submit(21).result(timeout=5) == 42
    batcher.close()
    assert sizes == [1]


def test_given_one_bad_item_in_a_batch_when_run_then_only_its_caller_fails() -> None:
    doubler = Doubler()
    batcher = MicroBatcher(doubler, max_size=4, max_wait_s=0.5)
    futures = [batcher.submit(n) for n in (1, -1, 3, 4)]
    assert futures[0].result(timeout=5) == 2
    with pytest.raises(ValueError, match="negative"):
        futures[1].result(timeout=5)
    assert [f.result(timeout=5) for f in futures[2:]] == [6, 8]
    batcher.close()
    assert doubler.batches[0] == [1, -1, 3, 4]  # tried together first, then one by one


def test_given_a_batch_function_returning_too_few_results_then_callers_get_an_error() -> None:
    batcher: MicroBatcher[int, int] = MicroBatcher(lambda items: [], max_size=2, max_wait_s=0.01)
    with pytest.raises(RuntimeError, match="returned 0 results for 1"):
        batcher.submit(1).result(timeout=5)
    batcher.close()
    with pytest.raises(BatcherClosedError):
        batcher.submit(2)


def test_given_two_runners_when_batches_queue_up_then_two_batches_run_at_once() -> None:
    both_inside = threading.Barrier(2, timeout=5)  # breaks (and the batch fails) unless two batches overlap

    def meet(items: Sequence[int]) -> list[int]:
        both_inside.wait()
        return [item + 1 for item in items]

    batcher = MicroBatcher(meet, max_size=2, max_wait_s=0.05, runners=2)
    futures = [batcher.submit(n) for n in range(4)]
    assert [f.result(timeout=10) for f in futures] == [1, 2, 3, 4]
    batcher.close()


def test_given_one_runner_then_batches_never_overlap() -> None:
    inside = 0
    most = 0
    lock = threading.Lock()

    def count(items: Sequence[int]) -> list[int]:
        nonlocal inside, most
        with lock:
            inside += 1
            most = max(most, inside)
        threading.Event().wait(0.02)
        with lock:
            inside -= 1
        return list(items)

    batcher = MicroBatcher(count, max_size=2, max_wait_s=0.0, runners=1)
    futures = [batcher.submit(n) for n in range(8)]
    assert [f.result(timeout=10) for f in futures] == list(range(8))
    batcher.close()
    assert most == 1
