"""Exact inner-product search of a CPU IndexFlatIP, bit for bit FAISS's own, with the database read in cache-sized
blocks and the whole search in one compiled call that releases the GIL.

Why: FAISS scores a batch one query at a time (a crop's neighbours must not depend on its batch: index.py), and
each query reads the whole database from memory (10 MB for the bundled 10k x 256 index). Here every query of the
batch is scored against one block of the database while it sits in cache, with FAISS's own kernel
(`faiss::fvec_inner_products_ny`, public in faiss/utils/distances.h, what its one-query search runs), and the
results go through a port of FAISS's result heap (faiss/utils/Heap.h, `CMin<float, int64_t>`: the same replacements
in the same order, ties broken by id), so scores, rows and the order of ties are FAISS's (tests compare them). 27
queries on the bundled index: 11.6 -> 4.8 ms. The loop is compiled (numba, no GIL) because a Python loop of
FAISS calls gives the GIL back and takes it again a few hundred times per batch: next to a thread running
Python that took 1.5 s instead of 5 ms (docs/performance.md).

Where the faiss build does not export the kernel, or numba is missing, `search` is FAISS's own.
"""

from __future__ import annotations

import ctypes
import functools
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from workers.vision.compiled import NUMBA, jit

log = logging.getLogger(__name__)

BLOCK_ROWS = 1024  # database rows per block: 1 MB at 256 dimensions, kept in cache across the batch's queries
# fvec_inner_products_ny has kernels of its own for 1, 2, 4, 8 and 12 dimensions, which round apart from what the
# one-query search runs; from 16 dimensions on it is the same loop (checked up to 1,024). Embeddings have 256+.
MIN_DIM = 32
LOWEST = np.float32(np.finfo(np.float32).min)  # CMin<float>::neutral()
KERNEL_SYMBOL = "_ZN5faiss22fvec_inner_products_nyEPfPKfS2_mm"  # faiss::fvec_inner_products_ny(float*, ..., size_t)


@jit
def _replace_top(size: int, values: np.ndarray, ids: np.ndarray, value: float, row: int) -> None:
    """faiss::heap_replace_top<CMin<float, int64_t>> (0-based): a min-heap of (value, id), ties ordered by id."""
    i = 0
    while True:
        left = 2 * i + 1
        right = left + 1
        if left >= size:
            break
        if right == size or values[left] < values[right] or (values[left] == values[right] and ids[left] < ids[right]):
            child = left
        else:
            child = right
        if value < values[child] or (value == values[child] and row < ids[child]):
            break
        values[i] = values[child]
        ids[i] = ids[child]
        i = child
    values[i] = value
    ids[i] = row


@jit
def _reorder(values: np.ndarray, ids: np.ndarray) -> None:
    """faiss::heap_reorder<CMin<float, int64_t>>: the heap into best-first order, empty slots (id -1) last."""
    k = values.shape[0]
    kept = 0
    for i in range(k):
        value, row = values[0], ids[0]
        _replace_top(k - i - 1, values, ids, values[k - i - 1], ids[k - i - 1])  # heap_pop
        values[k - kept - 1] = value
        ids[k - kept - 1] = row
        if row != -1:
            kept += 1
    values[:kept] = values[k - kept:].copy()
    ids[:kept] = ids[k - kept:].copy()
    values[kept:] = LOWEST
    ids[kept:] = -1


def _compile_scan(kernel: Any) -> Callable[..., None]:
    """The search loop with FAISS's kernel in it. Not cached on disk: the kernel's address is compiled in."""
    import numba

    @numba.njit(nogil=True)
    def scan(vectors: np.ndarray, queries: np.ndarray, top: np.ndarray, rows: np.ndarray) -> None:
        count, dim = vectors.shape
        top[:] = LOWEST
        rows[:] = -1
        scores = np.empty(BLOCK_ROWS, np.float32)
        for start in range(0, count, BLOCK_ROWS):
            size = min(BLOCK_ROWS, count - start)
            for q in range(queries.shape[0]):
                kernel(scores.ctypes.data, queries[q].ctypes.data, vectors[start].ctypes.data, dim, size)
                values, ids = top[q], rows[q]
                k = values.shape[0]
                for j in range(size):
                    if values[0] < scores[j]:  # CMin::cmp(top, x): only a strictly better score enters
                        _replace_top(k, values, ids, scores[j], start + j)
        for q in range(queries.shape[0]):
            _reorder(top[q], rows[q])

    return scan


def _faiss_kernel(faiss: Any) -> Any:
    """faiss::fvec_inner_products_ny from the library the faiss module loaded, or None where it is not exported."""
    for library in sorted(Path(faiss.__file__).parent.glob("libfaiss*.so*")):
        try:
            kernel = getattr(ctypes.CDLL(str(library)), KERNEL_SYMBOL)
        except (OSError, AttributeError):
            continue
        kernel.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t]
        kernel.restype = None
        return kernel
    return None


@functools.cache
def compiled_scan(faiss: Any) -> Callable[..., None] | None:
    """The compiled search (once per process), or None: then FAISS's own search is used."""
    kernel = _faiss_kernel(faiss) if NUMBA else None
    if kernel is None:
        log.info("flat search: FAISS's own (no numba, or this faiss build does not export %s)", KERNEL_SYMBOL)
        return None
    return _compile_scan(kernel)


def _gives_faiss_results(faiss: Any, index: Any, queries: np.ndarray, k: int) -> bool:
    """Whether the blocked search answers this call as FAISS would. Not for k >= FAISS's reservoir cut (100 by
    default: FAISS then selects the top k otherwise, and keeps other rows among ties at the k-th score), nor for
    small dimensions (MIN_DIM), nor for queries FAISS would reject or convert (its errors stay its own)."""
    return (index.d >= MIN_DIM and 1 <= k < faiss.cvar.distance_compute_min_k_reservoir
            and queries.ndim == 2 and len(queries) > 0 and queries.shape[1] == index.d
            and queries.dtype == np.float32 and queries.flags.c_contiguous)


def search(faiss: Any, index: Any, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """`index.search(queries, k)` for a CPU IndexFlatIP: FAISS's own search where the blocked one would not give
    its results. The blocked search runs on the calling thread alone (an OpenMP team set for it is not used)."""
    scan = compiled_scan(faiss)
    if scan is None or not _gives_faiss_results(faiss, index, queries, k):
        return index.search(queries, k)
    count, dim = index.ntotal, index.d
    vectors = faiss.rev_swig_ptr(index.get_xb(), count * dim).reshape(count, dim)
    top = np.empty((len(queries), k), np.float32)
    rows = np.empty((len(queries), k), np.int64)
    scan(vectors, queries, top, rows)
    return top, rows


def warm_up(faiss: Any) -> None:
    """Compile the search (about a second) before the first batch."""
    index = faiss.IndexFlatIP(MIN_DIM)
    index.add(np.eye(4, MIN_DIM, dtype=np.float32))
    search(faiss, index, np.eye(2, MIN_DIM, dtype=np.float32), 2)


def is_cpu_flat_ip(faiss: Any, index: Any) -> bool:
    return isinstance(index, faiss.IndexFlat) and index.metric_type == faiss.METRIC_INNER_PRODUCT
