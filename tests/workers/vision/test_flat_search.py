"""The flat search: FAISS's own results (its kernel, a port of its heap), the database read in blocks, and FAISS's
own search where the compiled one is missing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from workers.vision import flat_search
from workers.vision.index import ProductIndex, faiss_module

BUNDLED_INDEX = Path(__file__).resolve().parents[3] / "models" / "index"


def test_given_many_ties_when_small_indexes_are_searched_then_faiss_own_results_for_every_k() -> None:
    # Given 30 small indexes of coarsely quantised vectors (many equal scores, in and across blocks of rows)
    faiss = faiss_module()
    rng = np.random.default_rng(21)
    for case in range(30):
        count = int(rng.integers(1, 2500))
        vectors = np.round(rng.standard_normal((count, 8)) * 2).astype(np.float32)
        flat = faiss.IndexFlatIP(8)
        flat.add(vectors)
        queries = np.round(rng.standard_normal((int(rng.integers(1, 9)), 8))).astype(np.float32)
        for k in {1, min(count, 3), min(count, 17), count}:
            # When searched in blocks with the ported heaps, and by FAISS
            scores, rows = flat_search.search(faiss, flat, queries, k)
            expected_scores, expected_rows = flat.search(queries, k)
            # Then the same scores, rows, and order of equal scores
            assert np.array_equal(rows, expected_rows), (case, count, k)
            assert np.array_equal(scores, expected_scores), (case, count, k)


def test_given_no_compiled_search_when_searched_then_faiss_own_search(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a faiss build without the exported kernel (or no numba)
    index = ProductIndex(BUNDLED_INDEX, threads=1)
    queries = index.vectors()[:5] * np.float32(0.5)
    expected = index.faiss.search(queries, 10)
    monkeypatch.setattr(flat_search, "compiled_scan", lambda faiss: None)
    # When searched, Then FAISS's own search answers
    scores, rows = index.search(queries, 10)
    assert np.array_equal(rows, expected[1]) and np.array_equal(scores, expected[0])
