"""The product index: a FAISS inner-product index of CLIP image embeddings + a metadata store + a manifest.

Folder layout:
    index.faiss     FAISS index (IndexFlatIP below HNSW_THRESHOLD items, IndexHNSWFlat(IP) past it)
    items.jsonl     one line per FAISS row: id, group and the normalised labels (no titles, no descriptions)
    manifest.json   version, CLIP model version, dim, count, index kind, build/update times, vote calibration
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from shared.errors import ModelNotAvailableError, P2PError
from shared.images import decode_image, load_image
from workers.vision.catalog import CatalogItem
from workers.vision.embedder import ClipEmbedder

log = logging.getLogger(__name__)

HNSW_THRESHOLD = 100_000
HNSW_M = 32
INDEX_FILE, ITEMS_FILE, MANIFEST_FILE = "index.faiss", "items.jsonl", "manifest.json"
LABEL_KEYS = ("gender", "fabric", "category", "colour", "pattern")


class IndexError_(P2PError):
    code = "index_invalid"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _read_item_image(item: CatalogItem, timeout_s: float) -> np.ndarray:
    if item.image.startswith(("http://", "https://")):
        import httpx

        response = httpx.get(item.image, timeout=timeout_s, follow_redirects=True)
        response.raise_for_status()
        return decode_image(response.content).rgb
    return load_image(item.image).rgb


def embed_items(items: Sequence[CatalogItem], embedder: ClipEmbedder, batch_size: int = 64,
                timeout_s: float = 10.0) -> tuple[np.ndarray, list[CatalogItem], list[str]]:
    """Embeddings of the items whose image loads; returns (vectors, kept items, 'id: reason' of skipped ones)."""
    vectors, kept, skipped = [], [], []
    for start in range(0, len(items), batch_size):
        crops = []
        for item in items[start:start + batch_size]:
            try:
                crops.append(_read_item_image(item, timeout_s))
                kept.append(item)
            except Exception as exc:  # one bad catalogue image must not stop a build
                skipped.append(f"{item.id}: {exc}")
        if crops:
            vectors.append(embedder.embed_images(crops, batch_size=batch_size))
    dim = embedder.dim
    return (np.concatenate(vectors) if vectors else np.zeros((0, dim), np.float32)), kept, skipped


def _new_faiss_index(dim: int, expected_count: int) -> Any:
    import faiss

    if expected_count >= HNSW_THRESHOLD:
        index = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efSearch = 128
        return index
    return faiss.IndexFlatIP(dim)


class ProductIndex:
    """A product index folder, loaded lazily; searches are thread-safe (FAISS search is, adds are locked)."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._faiss: Any = None
        self._items: list[dict[str, Any]] = []
        self._manifest: dict[str, Any] = {}
        self._lock = threading.Lock()

    # ---- loading ----
    def _load(self) -> None:
        import faiss

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
            raise IndexError_(f"{self.folder}: {self._faiss.ntotal} vectors but {len(self._items)} items")

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

    def search(self, vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (scores, rows) per query vector; rows are -1 where the index has fewer than k items."""
        self._ensure()
        return self._faiss.search(np.ascontiguousarray(vectors, dtype=np.float32), min(k, max(1, self.count)))

    def vectors(self) -> np.ndarray:
        """All stored vectors (flat and HNSW-flat indexes keep them exactly)."""
        self._ensure()
        return self._faiss.reconstruct_n(0, self._faiss.ntotal)

    # ---- writing ----
    def _write(self) -> None:
        import faiss

        self.folder.mkdir(parents=True, exist_ok=True)
        on_cpu = faiss.index_gpu_to_cpu(self._faiss) if hasattr(self._faiss, "getDevice") else self._faiss
        faiss.write_index(on_cpu, str(self.folder / INDEX_FILE))
        (self.folder / ITEMS_FILE).write_text("".join(json.dumps(i, sort_keys=True) + "\n" for i in self._items))
        (self.folder / MANIFEST_FILE).write_text(json.dumps(self._manifest, indent=1, sort_keys=True) + "\n")

    def _stamp(self) -> None:
        digest = hashlib.sha256()
        digest.update(str(self._manifest.get("clip_version")).encode())
        for item in self._items:
            digest.update(item["id"].encode())
        self._manifest.update(count=len(self._items), version=f"idx-{digest.hexdigest()[:12]}")

    @classmethod
    def create(cls, folder: Path, vectors: np.ndarray, items: Sequence[CatalogItem], clip_version: str,
               source: str = "", calibrate: Callable[[ProductIndex], dict[str, Any]] | None = None,
               ) -> ProductIndex:
        """Write a new index folder from embeddings + items (row i of `vectors` is items[i])."""
        if len(vectors) != len(items):
            raise IndexError_(f"{len(vectors)} vectors for {len(items)} items")
        index = cls(folder)
        index._faiss = _new_faiss_index(vectors.shape[1], len(items))
        index._faiss.add(np.ascontiguousarray(vectors, dtype=np.float32))
        index._items = [_row(item) for item in items]
        index._manifest = {"clip_version": clip_version, "dim": int(vectors.shape[1]), "source": source,
                           "kind": type(index._faiss).__name__, "built_at": _now(), "updated_at": _now(),
                           "calibration": {}}
        index._stamp()
        if calibrate is not None:
            index._manifest["calibration"] = calibrate(index)
        index._write()
        return index

    def add(self, vectors: np.ndarray, items: Sequence[CatalogItem], clip_version: str) -> int:
        """Append items without a rebuild; ids already present are refused. Returns how many were added."""
        self._ensure()
        if clip_version != self._manifest["clip_version"]:
            raise IndexError_(f"index was built with CLIP {self._manifest['clip_version']}, not {clip_version}")
        known = {i["id"] for i in self._items}
        duplicates = [item.id for item in items if item.id in known]
        if duplicates:
            raise IndexError_(f"ids already in the index: {', '.join(duplicates[:5])}")
        with self._lock:
            self._faiss.add(np.ascontiguousarray(vectors, dtype=np.float32))
            self._items.extend(_row(item) for item in items)
            self._manifest["updated_at"] = _now()
            self._stamp()
            self._write()
        return len(items)


def _row(item: CatalogItem) -> dict[str, Any]:
    return {"id": item.id, "group": item.group, **item.labels()}


def gpu_available() -> bool:
    try:
        import faiss

        return hasattr(faiss, "get_num_gpus") and faiss.get_num_gpus() > 0
    except ImportError:  # pragma: no cover - faiss is a runtime dependency
        return False
