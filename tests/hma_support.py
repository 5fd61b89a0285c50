"""What the HMA API tests share: a media server of the tests' own (HMA's tests fetch the PDQ
reference images from github.com; here the same files come from loopback), HMA's expected
hashes, and a service with the HMA API mounted at the root."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from takedown.config import LOOPBACK_NETWORKS
from tests.conftest import SHARED_DATA
from tests.http_servers import QuietHandler, serving
from tests.service_support import Service, make_settings, running_service

REFERENCE = SHARED_DATA / "reference" / "pdq" / "images"

# HMA's tests/utils.py IMAGE_URL_TO_PDQ, by file
AAA_ORIG = "bridge-mods/aaa-orig.jpg"
C_PNG = "misc-images/c.png"
PDQ = {
    AAA_ORIG: "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22",
    C_PNG: "e64cc9d91c623882f8d1f1d9a398e78c9f199b3bd83924f2b7e11e0bf861b064",
}
BIG_BYTES = 2_500_000


class MediaHandler(QuietHandler):
    """``/img/<path>`` (the reference images, typed by suffix), ``/text`` (text/plain),
    ``/big`` (BIG_BYTES, declared), ``/big-undeclared`` (chunked), ``/moved`` (a redirect to
    aaa-orig) and ``/missing`` (404)."""

    def _send(self, status: int, body: bytes, kind: str, length: bool = True) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        if length:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        if path.startswith("/img/"):
            file = REFERENCE / path.removeprefix("/img/")
            if file.is_file() and REFERENCE in file.resolve().parents:
                kind = "image/png" if file.suffix == ".png" else "image/jpeg"
                self._send(200, file.read_bytes(), kind)
                return
        if path == "/text":
            self._send(200, b"not media", "text/plain")
        elif path == "/big":
            self._send(200, b"\0" * BIG_BYTES, "image/jpeg")
        elif path == "/big-undeclared":
            self.protocol_version = "HTTP/1.0"
            self._send(200, b"\0" * BIG_BYTES, "image/jpeg", length=False)
        elif path == "/moved":
            self.send_response(302)
            self.send_header("Location", f"/img/{AAA_ORIG}")
            self.send_header("Content-Length", "0")
            self.end_headers()
        else:
            self._send(404, b"no", "text/plain")


@contextmanager
def media_server() -> Iterator[str]:
    with serving(MediaHandler) as base:
        yield base


@contextmanager
def hma_service(tmp_path: Path, url: str, **overrides: Any) -> Iterator[Service]:
    """A service with the HMA API at HMA's root paths, allowed to fetch from loopback."""
    values: dict[str, Any] = {
        "hma_compat_root": True,
        "hma_fetch_allow_networks": list(LOOPBACK_NETWORKS),
        "hma_max_remote_file_size": 2_000_000,
        **overrides,
    }
    with running_service(make_settings(tmp_path, url, **values)) as service:
        yield service
