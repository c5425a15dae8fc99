"""Searching the bundled product index: a photo's neighbours do not depend on the batch it was searched in."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from workers.vision.index import ProductIndex, faiss_module

BUNDLED_INDEX = Path(__file__).resolve().parents[3] / "models" / "index"


def _queries(index: ProductIndex, count: int) -> np.ndarray:
    stored = index.faiss.reconstruct_n(0, count)
    noisy = stored + np.random.default_rng(0).normal(0, 0.05, stored.shape).astype(np.float32)
    return noisy / np.linalg.norm(noisy, axis=1, keepdims=True)


def test_given_a_large_batch_when_its_queries_are_searched_alone_then_scores_are_bit_equal() -> None:
    # Given 600 queries (over faiss' default BLAS cut of 128,000 = queries x 256 dimensions)
    index = ProductIndex(BUNDLED_INDEX, threads=1)
    queries = _queries(index, 600)
    # When searched together and one at a time
    batch_scores, batch_rows = index.search(queries, 10)
    alone = [index.search(queries[n:n + 1], 10) for n in range(0, 600, 97)]
    # Then each query gets the very same scores (BLAS scored them apart in the last bits, by batch size and by row)
    for (scores, rows), n in zip(alone, range(0, 600, 97), strict=True):
        assert np.array_equal(rows[0], batch_rows[n])
        assert np.array_equal(scores[0], batch_scores[n])


def test_given_any_batch_mates_when_a_query_is_searched_then_its_neighbours_and_scores_do_not_change() -> None:
    # Given the scores of 600 queries searched together, with two OpenMP threads (a lone query's scan is split
    # over them unless the index says otherwise)
    index = ProductIndex(BUNDLED_INDEX, threads=2)
    queries = _queries(index, 600)
    all_scores, all_rows = index.search(queries, 10)
    rng = np.random.default_rng(1)
    # When random subsets, in random order, are searched as batches of 1 to 160 (a GPU worker's batch of crops)
    for size in (1, 2, 7, 27, 64, 160):
        picked = rng.permutation(600)[:size]
        scores, rows = index.search(queries[picked], 10)
        # Then each query gets exactly what it got in the big batch
        assert np.array_equal(rows, all_rows[picked])
        assert np.array_equal(scores, all_scores[picked])


def test_given_a_thread_count_when_a_thread_searches_then_its_own_openmp_team_is_that_size() -> None:
    index = ProductIndex(BUNDLED_INDEX, threads=1)
    seen: list[int] = []

    def search() -> None:
        index.search(_queries(index, 3), 5)
        seen.append(faiss_module().omp_get_max_threads())

    runner = threading.Thread(target=search)
    runner.start()
    runner.join()
    assert seen == [1]
