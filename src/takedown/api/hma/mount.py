"""Mounting the HMA-compatible API: under ``/hma`` always, and at HMA's own root paths
(``/h``, ``/m``, ``/c``, ``/status``) when ``hma_compat_root`` is on, so that a client of HMA
switches to takedown by changing only the host it calls."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import PlainTextResponse

from takedown.api.hma import curation, exchanges, hashing, lookups, matching
from takedown.api.state import app_state
from takedown.config import Settings

PREFIX = "/hma"

status_router = APIRouter(tags=["HMA: status"])


@status_router.get("/status", response_class=PlainTextResponse)
def status(request: Request) -> PlainTextResponse:
    """HMA's liveness answer: ``I-AM-ALIVE`` once the indexes are loaded, else 503."""
    if not app_state(request).index.ready:
        return PlainTextResponse("INDEX-NOT-LOADED", status_code=503)
    return PlainTextResponse("I-AM-ALIVE")


ROUTERS = (hashing.router, matching.router, curation.router, exchanges.router, status_router)


def install(app: FastAPI, settings: Settings) -> None:
    app.state.hma_ids = lookups.ContentIdCache()
    for router in ROUTERS:
        app.include_router(router, prefix=PREFIX)
    if settings.hma_compat_root:
        for router in ROUTERS:
            app.include_router(router, include_in_schema=False)
