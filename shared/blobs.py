"""A content-addressed blob store for uploaded images: a local directory (a shared volume in Kubernetes). Writes
are atomic and durable (temp file, fsync, rename, directory fsync); reads are verified against the hash.

Queue messages carry the reference `blob:<sha256>`, never the bytes.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from shared.errors import P2PError
from shared.images import sha256_hex

_REF = re.compile(r"^blob:([0-9a-f]{64})$")


class BlobNotFoundError(P2PError):
    code = "blob_not_found"
    http_status = 404


class BlobCorruptError(P2PError):
    code = "blob_corrupt"
    http_status = 500


def _fsync_dir(directory: Path) -> None:
    """Make the rename itself durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def put(self, data: bytes) -> str:
        """Store `data` durably and return its reference: written to a temp file, fsynced, renamed into place,
        the directory fsynced. A blob already there is kept only if its content still hashes to its name (a
        truncated or corrupted one, e.g. from a crash on a filesystem without ordered writes, is rewritten)."""
        digest = sha256_hex(data)
        path = self._path(digest)
        if not self._intact(path, digest):
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
            _fsync_dir(path.parent)
        return f"blob:{digest}"

    def get(self, ref: str) -> bytes:
        """The blob's bytes, verified against the hash in its reference."""
        digest = self._digest(ref)
        path = self._path(digest)
        try:
            data = path.read_bytes()
        except FileNotFoundError as exc:
            raise BlobNotFoundError(f"blob {ref} is not in the blob store at {self.root}") from exc
        if sha256_hex(data) != digest:
            raise BlobCorruptError(f"blob {ref} is corrupt: its content no longer matches its hash")
        return data

    @staticmethod
    def _intact(path: Path, digest: str) -> bool:
        try:
            return sha256_hex(path.read_bytes()) == digest
        except FileNotFoundError:
            return False

    def exists(self, ref: str) -> bool:
        return self._path(self._digest(ref)).exists()

    def _path(self, digest: str) -> Path:
        return self.root / digest[:2] / digest

    @staticmethod
    def _digest(ref: str) -> str:
        match = _REF.match(ref)
        if match is None:
            raise BlobNotFoundError(f"not a blob reference: {ref!r}")
        return match.group(1)
