"""The flat search: FAISS's own results (its kernel, a port of its heap), the database read in blocks, and FAISS's
own search where the compiled one is missing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from workers.vision import flat_search
from workers.vision.index import ProductIndex, faiss_module

BUNDLED_INDEX = Path(__file__).resolve().parents[3] / "models" / "index"


def _bits(array: np.ndarray) -> np.ndarray:
    return array.view(np.int32)  # bit patterns: -0.0 and 0.0 differ, as do last bits


def _flat(faiss: Any, vectors: np.ndarray) -> Any:
    flat = faiss.IndexFlatIP(vectors.shape[1])
    flat.add(vectors)
    return flat


def test_given_many_ties_when_small_indexes_are_searched_then_faiss_own_results_for_every_k() -> None:
    # Given 30 small indexes of coarsely quantised vectors (many equal scores, in and across blocks of rows)
    faiss = faiss_module()
    rng = np.random.default_rng(21)
    for case in range(30):
        count = int(rng.integers(1, 2500))
        flat = _flat(faiss, np.round(rng.standard_normal((count, 32)) * 2).astype(np.float32))
        queries = np.round(rng.standard_normal((int(rng.integers(1, 9)), 32))).astype(np.float32)
        for k in {1, min(count, 3), min(count, 17), min(count, 99)}:
            # When searched in blocks with the ported heaps, and by FAISS
            scores, rows = flat_search.search(faiss, flat, queries, k)
            expected_scores, expected_rows = flat.search(queries, k)
            # Then the same scores, rows, and order of equal scores
            assert np.array_equal(rows, expected_rows), (case, count, k)
            assert np.array_equal(_bits(scores), _bits(expected_scores)), (case, count, k)


@pytest.mark.parametrize("dim", [1, 2, 4, 8, 12, 16, 32, 48, 256])
def test_given_any_dimension_when_searched_then_faiss_own_scores_to_the_last_bit(dim: int) -> None:
    # Given real-valued vectors (their sums round differently in another order); FAISS's block kernel has kernels of
    # its own for 1, 2, 4, 8 and 12 dimensions, whose scores differ from its search's in the last bits
    faiss = faiss_module()
    rng = np.random.default_rng(dim)
    flat = _flat(faiss, rng.standard_normal((1500, dim)).astype(np.float32))
    queries = rng.standard_normal((7, dim)).astype(np.float32)
    # When searched, Then FAISS's own scores, bit for bit
    scores, rows = flat_search.search(faiss, flat, queries, 20)
    expected_scores, expected_rows = flat.search(queries, 20)
    assert np.array_equal(rows, expected_rows)
    assert np.array_equal(_bits(scores), _bits(expected_scores))


def test_given_calls_faiss_would_answer_otherwise_when_searched_then_faiss_answers() -> None:
    faiss = faiss_module()
    rng = np.random.default_rng(4)
    flat = _flat(faiss, rng.standard_normal((300, 32)).astype(np.float32))
    queries = rng.standard_normal((6, 64)).astype(np.float32)
    # a strided view of the right width: FAISS copies it
    scores, rows = flat_search.search(faiss, flat, queries[:, ::2], 5)
    expected = flat.search(np.ascontiguousarray(queries[:, ::2]), 5)
    assert np.array_equal(rows, expected[1]) and np.array_equal(_bits(scores), _bits(expected[0]))
    # the wrong width, and k = 0: FAISS's own errors, not a read past the buffers
    with pytest.raises(AssertionError):
        flat_search.search(faiss, flat, queries, 5)
    with pytest.raises(AssertionError):
        flat_search.search(faiss, flat, queries[:, :32].copy(), 0)


def test_given_no_compiled_search_when_searched_then_faiss_own_search(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a faiss build without the exported kernel (or no numba)
    index = ProductIndex(BUNDLED_INDEX, threads=1)
    queries = index.vectors()[:5] * np.float32(0.5)
    expected = index.faiss.search(queries, 10)
    monkeypatch.setattr(flat_search, "compiled_scan", lambda faiss: None)
    # When searched, Then FAISS's own search answers
    scores, rows = index.search(queries, 10)
    assert np.array_equal(rows, expected[1]) and np.array_equal(scores, expected[0])
