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
    # Then each query gets the very same scores (the default threshold scored the two ways apart in the last bits)
    for (scores, rows), n in zip(alone, range(0, 600, 97), strict=True):
        assert np.array_equal(rows[0], batch_rows[n])
        assert np.array_equal(scores[0], batch_scores[n])


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
