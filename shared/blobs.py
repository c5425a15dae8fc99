"""A content-addressed blob store for uploaded images: a local directory (a shared volume in Kubernetes).

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


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def put(self, data: bytes) -> str:
        """Store `data` (atomically, once per content) and return its reference."""
        digest = sha256_hex(data)
        path = self._path(digest)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        return f"blob:{digest}"

    def get(self, ref: str) -> bytes:
        path = self._path(self._digest(ref))
        try:
            return path.read_bytes()
        except FileNotFoundError as exc:
            raise BlobNotFoundError(f"blob {ref} is not in the blob store at {self.root}") from exc

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
