"""The FastAPI application: routes, error shapes, body limit, metrics, and the lifespan that
loads the indexes, follows bank changes and (optionally) runs the delivery worker."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.staticfiles import StaticFiles

from takedown import __version__
from takedown.actions import worker
from takedown.api import errors, headers
from takedown.api.exchange_metrics import ExchangeCollector
from takedown.api.hash_pool import HashPool, default_workers
from takedown.api.hma import mount as hma
from takedown.api.json_input import JsonDepthLimit
from takedown.api.metrics import Metrics, RequestTimer
from takedown.api.openapi_links import add_links
from takedown.api.requests import BodyLimit
from takedown.api.routes import (
    actions,
    admin,
    banks,
    cases,
    cybertip,
    docs,
    evidence,
    exchange_feed,
    exchanges,
    ops,
    platform,
    reports,
)
from takedown.api.schemas import ContentIn, EntriesIn, LookupIn, SignalIn
from takedown.api.state import AppState, KeyCache, RateLimiter
from takedown.cases.policy import load_policy
from takedown.config import Settings
from takedown.legal.evidence import EvidenceStore
from takedown.media import MediaLimits
from takedown.service.idempotency import Replays
from takedown.service.live_index import LiveIndex
from takedown.service.references import ReferenceCache
from takedown.store.db import Database
from takedown.store.private import private_dir
from takedown.web import admin as admin_pages
from takedown.web import console, exchange_pages, public, sharing_pages
from takedown.web import staff as staff_gate
from takedown.web.session import Sessions, secret_key
from takedown.web.templating import STATIC

log = logging.getLogger("takedown.api")


def create_app(settings: Settings, *, db: Database | None = None) -> FastAPI:
    private_dir(settings.home)
    secret = secret_key(settings.secret_key, settings.home)
    state = AppState(
        settings=settings,
        db=db or Database(settings.db_url),
        index=LiveIndex(),
        metrics=Metrics(),
        keys=KeyCache(settings.key_cache_s),
        policy=load_policy(settings.policy_file),
        limiter=RateLimiter(settings.report_rate_per_ip, settings.report_rate_total, secret),
        replays=Replays(secret),
        sessions=Sessions(secret, settings.session_max_age_s),
        secret=secret,
        hashing=HashPool(
            settings.hash_workers or default_workers(settings.workers), settings.hash_queue
        ),
        evidence=EvidenceStore(settings.home, settings.vault_key, settings.evidence_retention_days),
        references=ReferenceCache(MediaLimits(max_bytes=settings.max_upload_bytes)),
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # a test client may enter the lifespan of an app that is already running: the
        # background threads are started by the first entry and stopped by the last exit
        with state.lock:
            state.lifespans += 1
            if state.lifespans == 1:
                _start_threads(state)
        try:
            yield
        finally:
            with state.lock:
                state.lifespans -= 1
                last = state.lifespans == 0
            if last:
                _stop_threads(state)
                state.hashing.close()
                if db is None:
                    state.db.dispose()

    app = FastAPI(
        title="takedown",
        version=__version__,
        description="Stop known CSAM and NCII at upload, act on reports, prove it.",
        lifespan=lifespan,
        docs_url=None,  # served from packaged files by routes.docs, not from a CDN
        redoc_url=None,
    )
    app.state.takedown = state
    state.metrics.registry.register(ExchangeCollector(state.db))
    errors.install(app)
    staff_gate.install(app)  # a console form's gate answers with a page
    # Routes are matched in the order they are included, each router costing a few
    # microseconds a request: the platform's upload path first, then HMA's (its clients' lookups
    # are as hot), then the rest.
    app.include_router(platform.router)
    hma.install(app, settings)  # the HMA-compatible API (api/hma), under /hma and maybe /
    for router in (
        reports.router,
        cases.router,
        banks.router,
        actions.router,
        admin.router,
        evidence.router,
        cybertip.router,
        exchanges.router,
        exchange_feed.router,
        ops.router,
        docs.router,
        public.router,
        console.router,
        admin_pages.router,
        sharing_pages.router,
        exchange_pages.router,
    ):
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")

    app.add_middleware(JsonDepthLimit)  # inside the body limit, which bounds what it reads
    app.add_middleware(BodyLimit, limit=settings.max_upload_bytes)
    app.add_middleware(RequestTimer, metrics=state.metrics)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    headers.install(app, hsts=settings.hsts)
    return app


def _start_threads(state: AppState) -> None:
    state.stop = threading.Event()
    state.threads = []
    follower = threading.Thread(
        target=state.index.follow,
        args=(state.db, state.settings.index_poll_s, state.stop),
        name="index-follower",
        daemon=True,
    )
    state.threads.append(follower)
    if state.settings.background_worker:
        state.threads.append(
            threading.Thread(
                target=worker.run,
                args=(state.db, state.settings, state.stop, state.wake),
                name="delivery-worker",
                daemon=True,
            )
        )
    for thread in state.threads:
        thread.start()


def _stop_threads(state: AppState) -> None:
    state.stop.set()
    state.wake.set()
    for thread in state.threads:
        thread.join(timeout=15)
    state.threads = []


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's schema plus the models of the routes that read JSON-or-multipart bodies."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    schema.setdefault("components", {})["securitySchemes"] = {
        "bearer": {"type": "http", "scheme": "bearer", "description": "API key or staff token"},
        "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
    }
    public = {"/healthz", "/readyz"}
    for path, operations in schema.get("paths", {}).items():
        if path not in public and not path.startswith("/v1/reports"):
            for operation in operations.values():
                operation["security"] = [{"bearer": []}, {"apiKey": []}]
    components = schema["components"].setdefault("schemas", {})
    for model in (SignalIn, ContentIn, LookupIn, EntriesIn):
        body = model.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, sub in body.pop("$defs", {}).items():
            components.setdefault(name, sub)
        components.setdefault(model.__name__, body)
    add_links(schema)
    app.openapi_schema = schema
    return schema
