"""Real pages in real Chromium: a uvicorn server in a thread, Debian's chromium driven by
Playwright, axe-core injected for accessibility checks, screenshots kept as artifacts."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from takedown.config import Settings
from tests.http_servers import QuietHandler, serving

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = ROOT / "test-artifacts" / "screenshots"
REQUIRED = os.environ.get("TAKEDOWN_REQUIRE_BROWSER") == "1"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def need_browser() -> None:
    missing = [str(p) for p in (CHROMIUM, AXE) if not p.exists()]
    if missing:
        message = f"browser tests need {', '.join(missing)} (make test installs them)"
        if REQUIRED:
            pytest.fail(message + "; TAKEDOWN_REQUIRE_BROWSER=1 makes them mandatory")
        pytest.skip(message)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def live_server(app: Any) -> Iterator[str]:
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)


@contextmanager
def media_server(files: dict[str, bytes]) -> Iterator[str]:
    """The platform's media endpoint: serves an item's bytes to signed requests only."""

    class Handler(QuietHandler):
        def do_GET(self) -> None:
            content_id = self.path.rsplit("/", 1)[-1]
            data = files.get(content_id)
            if data is None or "Takedown-Signature" not in self.headers:
                self.send_response(404)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    with serving(Handler) as base:
        yield base + "/media/{content_id}"


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def csp_violations(page: Any) -> list[str]:
    """What Chromium reported as refused by the Content-Security-Policy since the page was
    loaded (it logs each violation to the console)."""
    return [
        message.text
        for message in page.console_messages(filter="since-navigation")
        if "Content Security Policy" in message.text
    ]


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """Serious and critical axe-core violations on the current page, and any CSP violation
    (as a critical one). axe is evaluated through the DevTools protocol, which the pages'
    CSP does not govern: an injected <script> tag would be refused as inline script."""
    refused = [{"id": "csp", "impact": "critical", "nodes": [t]} for t in csp_violations(page)]
    page.evaluate(AXE.read_text())
    result = page.evaluate("async () => await axe.run(document)")
    return refused + [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:3]}
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def settings_for(tmp_path: Path, url: str, **overrides: Any) -> Settings:
    from tests.service_support import make_settings

    return make_settings(tmp_path, url, background_worker=True, **overrides)
