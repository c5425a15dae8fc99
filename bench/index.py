"""How retrieval grows with the catalogue: FAISS flat vs IVF vs HNSW on random unit vectors.

    python bench/index.py [--sizes 10000,100000,1000000] [--dim 256] [--queries 100] [--k 10] [--hnsw-max 100000]

Per catalogue size: build seconds, search milliseconds per query (one search call for all queries, as the
pipeline makes one call per batch), and recall@k against the exact (flat) answer. Random vectors on the unit
sphere have no cluster structure, so the approximate indexes' recall here is a pessimistic bound: real CLIP
embeddings cluster, and IVF/HNSW find their neighbours more easily. HNSW is built only up to --hnsw-max vectors
(its build is the slow part on a small CPU); the row says so when skipped.
"""

from __future__ import annotations

import argparse
import functools
import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from workers.vision.index import faiss_module

faiss = faiss_module()  # searched as the runtime searches (each query on its own, no BLAS)


def unit_vectors(count: int, dim: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = np.empty((count, dim), np.float32)
    for start in range(0, count, 100_000):
        block = rng.standard_normal((min(100_000, count - start), dim), dtype=np.float32)
        out[start:start + len(block)] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def clustered_vectors(count: int, dim: int, seed: int, centres: np.ndarray) -> np.ndarray:
    """Unit vectors around `centres` (cosine ~0.9 to their centre): products of a catalogue cluster like this."""
    rng = np.random.default_rng(seed)
    out = np.empty((count, dim), np.float32)
    for start in range(0, count, 100_000):
        size = min(100_000, count - start)
        block = centres[rng.integers(0, len(centres), size)]
        block = block + rng.standard_normal((size, dim), dtype=np.float32) * np.float32(0.5 / np.sqrt(dim))
        out[start:start + size] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    hits = sum(len(set(f.tolist()) & set(t.tolist())) for f, t in zip(found, truth, strict=True))
    return hits / truth.size


def timed(work: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = work()
    return time.perf_counter() - started, result


def search_ms(index: Any, queries: np.ndarray, k: int, repeats: int = 3) -> tuple[float, np.ndarray]:
    best, rows = float("inf"), np.empty(0)
    for _ in range(repeats):
        seconds, (_, rows) = timed(lambda: index.search(queries, k))
        best = min(best, seconds)
    return 1000 * best / len(queries), rows


def ivf(base: np.ndarray, dim: int) -> Any:
    nlist = int(np.sqrt(len(base)))  # the usual rule of thumb; trained on 40 vectors per list, 10 k-means steps
    index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
    index.cp.niter = 10
    sample = base[np.random.default_rng(1).choice(len(base), min(len(base), 40 * nlist), replace=False)]
    index.train(sample)
    index.add(base)
    return index


def hnsw(base: np.ndarray, dim: int) -> Any:
    index = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)  # M as workers.vision.index builds it
    index.hnsw.efConstruction = 40
    index.add(base)
    return index


def flat(base: np.ndarray, dim: int) -> Any:
    index = faiss.IndexFlatIP(dim)
    index.add(base)
    return index


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--dim", type=int, default=256)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--hnsw-max", type=int, default=100_000)
    parser.add_argument("--data", choices=["random", "clustered"], default="random",
                        help="clustered: 1 cluster per 100 vectors, each vector at cosine ~0.9 to its centre")
    args = parser.parse_args(argv)
    print(f"# faiss {faiss.__version__}, {args.data} unit vectors, dim {args.dim}, {args.queries} queries in one call, "
          f"k={args.k}, "
          f"{faiss.omp_get_max_threads()} OpenMP threads, load average "
          f"{' '.join(f'{v:.1f}' for v in os.getloadavg())}\n")
    print("| vectors | index | build s | search ms / query | recall@k | speed-up vs flat |")
    print("|---:|---|---:|---:|---:|---:|")
    for size in (int(s) for s in args.sizes.split(",")):
        if args.data == "random":
            base, queries = unit_vectors(size, args.dim, seed=size), unit_vectors(args.queries, args.dim, seed=7)
        else:
            centres = unit_vectors(max(10, size // 100), args.dim, seed=size)
            base = clustered_vectors(size, args.dim, size + 1, centres)
            queries = clustered_vectors(args.queries, args.dim, 7, centres)
        build_s, index = timed(functools.partial(flat, base, args.dim))
        flat_ms, truth = search_ms(index, queries, args.k)
        print(f"| {size:,} | flat (exact) | {build_s:.1f} | {flat_ms:.3f} | 1.000 | 1.0x |")
        del index
        build_s, index = timed(functools.partial(ivf, base, args.dim))
        for nprobe in (8, 32):
            index.nprobe = nprobe
            ms, rows = search_ms(index, queries, args.k)
            print(f"| {size:,} | IVF{index.nlist}, nprobe {nprobe} | {build_s:.1f} | {ms:.3f} "
                  f"| {recall(rows, truth):.3f} | {flat_ms / ms:.1f}x |")
        del index
        if size > args.hnsw_max:
            print(f"| {size:,} | HNSW32 | not built (> --hnsw-max {args.hnsw_max:,}) | | | |")
            continue
        build_s, index = timed(functools.partial(hnsw, base, args.dim))
        for ef in (64, 128):
            index.hnsw.efSearch = ef
            ms, rows = search_ms(index, queries, args.k)
            print(f"| {size:,} | HNSW32, efSearch {ef} | {build_s:.1f} | {ms:.3f} "
                  f"| {recall(rows, truth):.3f} | {flat_ms / ms:.1f}x |")
        del index


if __name__ == "__main__":
    main()
