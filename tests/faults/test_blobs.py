"""Blob writes are atomic and verified: a truncated or corrupted blob (a crash mid-write on a filesystem without
ordered writes, a bad disk) is never served, and storing the image again repairs it (real files)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from shared.blobs import BlobCorruptError, BlobNotFoundError, BlobStore
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


WRITER = """
import hashlib, os, sys
from pathlib import Path
from shared.blobs import BlobStore
data = os.urandom(int(sys.argv[2]))
print(hashlib.sha256(data).hexdigest(), flush=True)
sys.stdin.readline()  # the test watches the directory from here on
BlobStore(Path(sys.argv[1])).put(data)
print("stored", flush=True)
"""


def test_given_a_writer_sigkilled_mid_put_then_the_blob_is_absent_not_partial(tmp_path: Path) -> None:
    # Given a process storing a 256 MB blob (big enough that the kill lands inside the write or its fsync)
    size = 256 * 1024 * 1024
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), str(size)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[2])
    assert writer.stdin is not None and writer.stdout is not None
    digest = writer.stdout.readline().strip()
    writer.stdin.write("go\n")
    writer.stdin.flush()
    # When it is SIGKILLed as soon as bytes reach the disk
    deadline = time.monotonic() + 60
    while not any(p.is_file() and p.stat().st_size > 0 for p in tmp_path.rglob("*")):
        assert time.monotonic() < deadline and writer.poll() is None, "the writer never started writing"
        time.sleep(0.001)
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    # Then the blob's own name holds nothing partial: it is either absent or (had the kill come after the rename)
    # complete; a partial temp file is all that can be left, and a new put stores the blob whole
    blobs = BlobStore(tmp_path)
    named = list(tmp_path.rglob(digest))
    assert [p.stat().st_size < size for p in tmp_path.rglob(".upload-*")] in ([], [True])
    if named:  # the kill came after the rename: the blob is whole
        assert len(blobs.get(f"blob:{digest}")) == size
    else:
        with pytest.raises(BlobNotFoundError):
            blobs.get(f"blob:{digest}")
