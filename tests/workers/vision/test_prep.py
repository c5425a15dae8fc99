"""The batch-preparation helper: same results, in order, whatever the thread count; really on several threads."""

from __future__ import annotations

import threading

from workers.vision.prep import map_indices


def test_given_any_thread_count_when_mapping_then_results_are_the_serial_ones_in_order() -> None:
    for count in range(0, 12):
        for threads in (1, 2, 3, 5, 16):
            assert map_indices(lambda i: i * i, count, threads) == [i * i for i in range(count)]


def test_given_two_threads_when_mapping_then_the_second_chunk_runs_on_another_thread() -> None:
    names = map_indices(lambda i: threading.current_thread().name, 8, 2)
    assert set(names[:4]) == {threading.current_thread().name}
    assert len(set(names[4:])) == 1 and names[4] != names[0]
