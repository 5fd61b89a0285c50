"""Media bytes of reported, held and confirmed items, kept under ``HOME/evidence``.

Only those items' bytes are kept (an allowed upload's bytes are hashed and dropped). Files are
readable by the service's user only and reached only through authenticated, audited routes;
encryption at rest with per-item keys arrives with the evidence vault (legal issue).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


class EvidenceStore:
    def __init__(self, home: Path) -> None:
        self.root = home / "evidence"

    def _path(self, content_id: str) -> Path:
        return self.root / hashlib.sha256(content_id.encode("utf-8")).hexdigest()

    def put(self, content_id: str, data: bytes) -> None:
        """Write atomically (temporary file renamed), mode 0600."""
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = self._path(content_id)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        tmp.replace(path)

    def get(self, content_id: str) -> bytes | None:
        path = self._path(content_id)
        return path.read_bytes() if path.is_file() else None

    def has(self, content_id: str) -> bool:
        return self._path(content_id).is_file()
