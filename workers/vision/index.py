"""The product index at run time: load a folder, search it (building is offline: pixels2posts/catalog/build.py).

Folder layout:
    index.faiss     FAISS index (IndexFlatIP, or IndexHNSWFlat(IP) for 100k+ items)
    items.jsonl     one line per FAISS row: id, group and the normalised labels (no titles, no descriptions)
    manifest.json   version, CLIP model version, dim, count, index kind, build/update times, vote calibration,
                    similarity (percentiles of the products' best leave-product-out neighbour similarity)
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import Any

import numpy as np

from shared.errors import ModelNotAvailableError, P2PError
from workers.vision import flat_search

log = logging.getLogger(__name__)

INDEX_FILE, ITEMS_FILE, MANIFEST_FILE = "index.faiss", "items.jsonl", "manifest.json"
LABEL_KEYS = ("gender", "fabric", "category", "colour", "pattern")
# faiss scores a search by one BLAS matrix product when queries x dimension >= this, else one query at a time. Never
# BLAS: scored one at a time (and no more threads than queries: `ProductIndex.search`), a crop's scores and
# neighbours on the CPU index cannot depend on the batch it came in. BLAS results do, in the last bits, on some CPUs
# (an AMD EPYC with AVX-512: up to 7e-7, and near-tied neighbours swapped), and at one OpenMP thread it was within
# 11 % of one at a time there, either way, for 1 to 160 queries (docs/performance.md, "FAISS back to one query at a
# time"). A GPU flat index scores with cuBLAS whatever this says.
BLAS_THRESHOLD = 2**31 - 1


def faiss_module() -> Any:
    """faiss, set to score each query on its own (imported on first use: a process without an index never loads it)."""
    import faiss

    faiss.cvar.distance_compute_blas_threshold = BLAS_THRESHOLD
    return faiss


class ProductIndexError(P2PError):
    code = "index_invalid"


class ProductIndex:
    """A product index folder, loaded lazily; searches are thread-safe."""

    def __init__(self, folder: Path, threads: int | None = None) -> None:
        self.folder = Path(folder)
        self.threads = threads  # OpenMP threads of each search (None: faiss' default, every core)
        self._faiss: Any = None
        self._items: list[dict[str, Any]] = []
        self._manifest: dict[str, Any] = {}
        self._by_id: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    @classmethod
    def of(cls, faiss_index: Any, items: list[dict[str, Any]], manifest: dict[str, Any],
           folder: Path) -> ProductIndex:
        """An index already in memory (what a build just wrote), searched as a loaded one is."""
        index = cls(folder)
        index._faiss, index._items, index._manifest = faiss_index, items, manifest
        return index

    # ---- loading ----
    def _load(self) -> None:
        faiss = faiss_module()
        manifest = self.folder / MANIFEST_FILE
        if not manifest.is_file():
            raise ModelNotAvailableError(f"no product index at {self.folder} (missing {MANIFEST_FILE})")
        self._manifest = json.loads(manifest.read_text())
        self._items = [json.loads(line) for line in (self.folder / ITEMS_FILE).read_text().splitlines() if line]
        self._faiss = faiss.read_index(str(self.folder / INDEX_FILE))
        if gpu_available() and isinstance(self._faiss, faiss.IndexFlatIP):
            # exact search on the GPU when this faiss build has one (the HNSW kind stays on the CPU)
            self._faiss = faiss.index_cpu_to_gpu(faiss.StandardGpuResources(), 0, self._faiss)
        if self._faiss.ntotal != len(self._items):
            raise ProductIndexError(f"{self.folder}: {self._faiss.ntotal} vectors but {len(self._items)} items")

    def _ensure(self) -> None:
        if self._faiss is None:
            with self._lock:
                if self._faiss is None:
                    self._load()

    @property
    def manifest(self) -> dict[str, Any]:
        self._ensure()
        return self._manifest

    @property
    def version(self) -> str:
        return str(self.manifest["version"])

    @property
    def count(self) -> int:
        self._ensure()
        return len(self._items)

    def item(self, row: int) -> dict[str, Any]:
        self._ensure()
        return self._items[row]

    def find(self, item_id: str) -> dict[str, Any] | None:
        """The item with this id (a shop's SKU, in the index built from its catalogue), or None."""
        self._ensure()
        with self._lock:
            if len(self._by_id) != len(self._items):  # first use, or items added since (ids are unique)
                self._by_id = {str(item["id"]): item for item in self._items}
            return self._by_id.get(item_id)

    def search(self, vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (scores, rows) per query vector; rows are -1 where the index has fewer than k items."""
        self._ensure()
        queries = np.ascontiguousarray(vectors, dtype=np.float32)
        faiss = faiss_module()
        # OpenMP's thread count belongs to the calling thread: set it in each batch runner that searches
        previous = faiss.omp_get_max_threads()
        team = self.threads or previous
        # a batch smaller than the team is scored by splitting the database over the threads, with BLAS (other last
        # bits than the same query in a bigger batch): at most one thread per query keeps every query on its own
        faiss.omp_set_num_threads(max(1, min(team, len(queries))))
        index, k = self._faiss, min(k, max(1, self.count))  # read once: reload() may drop it meanwhile
        try:
            if flat_search.is_cpu_flat_ip(faiss, index):  # FAISS's results, the database read in blocks
                return flat_search.search(faiss, index, queries, k)
            return index.search(queries, k)
        finally:
            faiss.omp_set_num_threads(team if self.threads else previous)

    @property
    def faiss(self) -> Any:
        """The loaded FAISS object (what a build appends to)."""
        self._ensure()
        return self._faiss

    def reload(self) -> None:
        """Forget what was loaded; the next use reads the folder again (after a build rewrote it)."""
        with self._lock:
            self._faiss, self._items, self._manifest, self._by_id = None, [], {}, {}

    def vectors(self) -> np.ndarray:
        """All stored vectors (flat and HNSW-flat indexes keep them exactly)."""
        self._ensure()
        return self._faiss.reconstruct_n(0, self._faiss.ntotal)

def gpu_available() -> bool:
    try:
        import faiss

        return hasattr(faiss, "get_num_gpus") and faiss.get_num_gpus() > 0
    except ImportError:  # pragma: no cover - faiss is a runtime dependency
        return False
