"""Prometheus metrics of one API worker (its own registry, so apps in tests don't collide)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


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
