"""Prometheus metrics of one API worker (its own registry, so apps in tests don't collide)."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.latency = Histogram(
            "takedown_request_seconds",
            "Request latency by route",
            ["method", "route", "status"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        self.verdicts = Counter(
            "takedown_verdicts_total",
            "Verdicts given",
            ["endpoint", "verdict"],
            registry=self.registry,
        )
        self.index_size = Gauge(
            "takedown_index_entries",
            "Entries in the in-memory indexes",
            ["index"],
            registry=self.registry,
        )
        self.outbox_lag = Gauge(
            "takedown_outbox_lag_seconds",
            "Age of the oldest undelivered webhook delivery (0 when none)",
            registry=self.registry,
        )
        self.outbox_pending = Gauge(
            "takedown_outbox_pending", "Undelivered webhook deliveries", registry=self.registry
        )


class RequestTimer:
    """ASGI middleware recording each request's latency by route template and status (a pure
    ASGI layer: Starlette's BaseHTTPMiddleware costs more than a lookup itself)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.latency.labels(scope["method"], route, str(status)).observe(
                time.perf_counter() - started
            )
