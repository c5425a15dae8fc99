"""Building product indexes (offline): embed catalogue items, write a new index folder, append to one.

The folder layout and loading/search live in workers/vision/index.py (the runtime); this module writes it.
At build time the index also measures itself: the vote calibration (leave-product-out queries) and the
distribution of each product's best leave-product-out neighbour similarity (`manifest["similarity"]`), against
which the runtime judges whether a query looks like the catalogue at all (an out-of-domain signal).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from pixels2posts.catalog.reader import CatalogItem
from shared.images import decode_image, load_image
from workers.vision.embedder import ClipEmbedder
from workers.vision.index import INDEX_FILE, ITEMS_FILE, MANIFEST_FILE, ProductIndex, ProductIndexError

HNSW_THRESHOLD = 100_000
HNSW_M = 32
SIMILARITY_SAMPLE = 2000


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


def _row(item: CatalogItem) -> dict[str, Any]:
    return {"id": item.id, "group": item.group, **item.labels()}




def _stamp(manifest: dict[str, Any], items: Sequence[dict[str, Any]]) -> None:
    digest = hashlib.sha256()
    digest.update(str(manifest.get("clip_version")).encode())
    for item in items:
        digest.update(item["id"].encode())
    manifest.update(count=len(items), version=f"idx-{digest.hexdigest()[:12]}")


def _write(folder: Path, faiss_index: Any, items: Sequence[dict[str, Any]], manifest: dict[str, Any]) -> None:
    import faiss

    folder.mkdir(parents=True, exist_ok=True)
    on_cpu = faiss.index_gpu_to_cpu(faiss_index) if hasattr(faiss_index, "getDevice") else faiss_index
    faiss.write_index(on_cpu, str(folder / INDEX_FILE))
    (folder / ITEMS_FILE).write_text("".join(json.dumps(i, sort_keys=True) + "\n" for i in items))
    (folder / MANIFEST_FILE).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")


def similarity_profile(index: ProductIndex, sample: int = SIMILARITY_SAMPLE, seed: int = 0) -> dict[str, float]:
    """Percentiles of the best neighbour similarity of indexed products, their own product group left out."""
    if index.count < 2:
        return {}
    rng = np.random.default_rng(seed)
    rows = rng.choice(index.count, min(sample, index.count), replace=False)
    scores, found = index.search(index.vectors()[rows], min(index.count, 21))
    best = []
    for query, row_scores, row_found in zip(rows, scores, found, strict=True):
        group = index.item(int(query))["group"]
        kept = [s for s, r in zip(row_scores, row_found, strict=True)
                if r >= 0 and index.item(int(r))["group"] != group]
        if kept:
            best.append(max(kept))
    if not best:
        return {}
    return {f"p{q:02d}": round(float(np.percentile(best, q)), 4) for q in (1, 5, 10, 50)}


def create_index(folder: Path, vectors: np.ndarray, items: Sequence[CatalogItem], clip_version: str,
                 source: str = "", calibrate: Callable[[ProductIndex], dict[str, Any]] | None = None,
                 ) -> ProductIndex:
    """Write a new index folder from embeddings + items (row i of `vectors` is items[i])."""
    if len(vectors) != len(items):
        raise ProductIndexError(f"{len(vectors)} vectors for {len(items)} items")
    faiss_index = _new_faiss_index(vectors.shape[1], len(items))
    faiss_index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    rows = [_row(item) for item in items]
    manifest: dict[str, Any] = {"clip_version": clip_version, "dim": int(vectors.shape[1]), "source": source,
                                "kind": type(faiss_index).__name__, "built_at": _now(), "updated_at": _now(),
                                "calibration": {}}
    _stamp(manifest, rows)
    index = ProductIndex.of(faiss_index, rows, manifest, folder)
    if calibrate is not None:
        manifest["calibration"] = calibrate(index)
    manifest["similarity"] = similarity_profile(index)
    _write(folder, faiss_index, rows, manifest)
    return index


def add_to_index(index: ProductIndex, vectors: np.ndarray, items: Sequence[CatalogItem], clip_version: str) -> int:
    """Append items without a rebuild; ids already present are refused. Returns how many were added."""
    manifest = index.manifest
    if clip_version != manifest["clip_version"]:
        raise ProductIndexError(f"index was built with CLIP {manifest['clip_version']}, not {clip_version}")
    rows = [index.item(r) for r in range(index.count)]
    known = {row["id"] for row in rows}
    duplicates = [item.id for item in items if item.id in known]
    if duplicates:
        raise ProductIndexError(f"ids already in the index: {', '.join(duplicates[:5])}")
    faiss_index = index.faiss
    faiss_index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    rows.extend(_row(item) for item in items)
    manifest["updated_at"] = _now()
    _stamp(manifest, rows)
    _write(index.folder, faiss_index, rows, manifest)
    index.reload()
    return len(items)
