"""Blob writes are atomic and verified: a truncated or corrupted blob (a crash mid-write on a filesystem without
ordered writes, a bad disk) is never served, and storing the image again repairs it (real files)."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.blobs import BlobCorruptError, BlobStore
from tests.support.helpers import jpeg_bytes


def test_given_a_truncated_blob_then_reads_refuse_it_and_a_new_put_rewrites_it(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path)
    data = jpeg_bytes(1)
    ref = blobs.put(data)
    path = next(p for p in tmp_path.rglob("*") if p.is_file())
    path.write_bytes(data[: len(data) // 2])  # what a crash mid-write could have left
    with pytest.raises(BlobCorruptError):
        blobs.get(ref)
    assert blobs.put(data) == ref
    assert blobs.get(ref) == data
    assert [p.name for p in tmp_path.rglob(".upload-*")] == []  # no temp files left behind
