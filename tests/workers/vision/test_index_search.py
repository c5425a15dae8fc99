"""Searching the bundled product index: a photo's neighbours do not depend on the batch it was searched in."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

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


@pytest.mark.parametrize("threads", [2, 4, None])
def test_given_any_batch_mates_when_a_query_is_searched_then_its_neighbours_and_scores_do_not_change(
        threads: int | None) -> None:
    # Given the scores of 600 queries searched together by a team of threads (faiss splits the database over the
    # team, with BLAS, for a batch smaller than the team; the bundled index is over its 10,000-vector cut for that)
    index = ProductIndex(BUNDLED_INDEX, threads=threads)
    assert index.count >= 10_000
    queries = _queries(index, 600)
    all_scores, all_rows = index.search(queries, 10)
    rng = np.random.default_rng(1)
    # When random subsets, in random order, are searched as batches of 1 to 160
    for size in (1, 2, 3, 7, 27, 64, 160):
        picked = rng.permutation(600)[:size]
        scores, rows = index.search(queries[picked], 10)
        # Then each query gets exactly what it got in the big batch
        assert np.array_equal(rows, all_rows[picked])
        assert np.array_equal(scores, all_scores[picked])


def test_given_no_fixed_thread_count_when_a_small_batch_is_searched_then_the_callers_team_is_left_as_it_was() -> None:
    index = ProductIndex(BUNDLED_INDEX)
    omp = faiss_module()
    before = omp.omp_get_max_threads()
    omp.omp_set_num_threads(3)
    try:
        index.search(_queries(index, 2), 5)
        assert omp.omp_get_max_threads() == 3
    finally:
        omp.omp_set_num_threads(before)


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


@pytest.mark.parametrize("k", [1, 10, 50])
def test_given_ties_and_a_partial_last_block_when_searched_then_faiss_own_flat_search_bit_for_bit(k: int) -> None:
    # Given the bundled index (10,127 vectors: its last block is partial), and queries that are noisy catalogue
    # vectors, random directions, and stored vectors that occur more than once (tied scores)
    index = ProductIndex(BUNDLED_INDEX, threads=1)
    stored = index.vectors()
    _, first, counts = np.unique(stored, axis=0, return_inverse=True, return_counts=True)
    repeated = stored[np.flatnonzero(counts[first] > 1)[:12]]
    assert len(repeated) >= 2
    directions = np.random.default_rng(5).standard_normal((9, stored.shape[1])).astype(np.float32)
    queries = np.concatenate([_queries(index, 20), directions, repeated]).astype(np.float32)
    # When searched by the index (blocks of the database, FAISS's kernel and heaps)
    scores, rows = index.search(queries, k)
    # Then exactly what FAISS's own IndexFlatIP search returns, ties and their order included
    expected_scores, expected_rows = index.faiss.search(queries, k)
    assert np.array_equal(rows, expected_rows)
    assert np.array_equal(scores, expected_scores)


def test_given_an_index_smaller_than_a_block_when_searched_then_faiss_own_flat_search() -> None:
    faiss = faiss_module()
    vectors = np.random.default_rng(8).standard_normal((37, 16)).astype(np.float32)
    flat = faiss.IndexFlatIP(16)
    flat.add(vectors)
    index = ProductIndex.of(flat, [{"id": str(n)} for n in range(37)], {"version": "t"}, Path("unused"))
    scores, rows = index.search(vectors[:5], 40)  # k over the index's size: capped at its 37 items
    expected_scores, expected_rows = flat.search(vectors[:5], 37)
    assert np.array_equal(rows, expected_rows) and np.array_equal(scores, expected_scores)




@pytest.mark.parametrize("k", [99, 100, 150, 200])
def test_given_a_top_k_over_faiss_reservoir_cut_when_searched_then_the_same_tied_rows_as_faiss(k: int) -> None:
    # Given a catalogue whose 200 distinct vectors are each stored about 50 times (ties at the k-th score), and a k
    # around the cut (100) from which FAISS selects its top k with a reservoir, which keeps other tied rows than
    # its heap does
    faiss = faiss_module()
    rng = np.random.default_rng(3)
    distinct = rng.standard_normal((200, 256)).astype(np.float32)
    distinct /= np.linalg.norm(distinct, axis=1, keepdims=True)
    flat = faiss.IndexFlatIP(256)
    flat.add(distinct[rng.integers(0, 200, 10_000)])
    index = ProductIndex.of(flat, [{"id": str(n)} for n in range(10_000)], {"version": "t"}, Path("unused"))
    queries = rng.standard_normal((20, 256)).astype(np.float32)
    # When searched, Then FAISS's own rows and scores
    scores, rows = index.search(queries, k)
    expected_scores, expected_rows = flat.search(queries, k)
    assert np.array_equal(rows, expected_rows) and np.array_equal(scores, expected_scores)
