"""Exchange figures for ``/metrics``, read from the database at each scrape: the fetches run
in the worker (another process, often), so the API worker's own counters would not see them."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import select

from takedown.store.db import Database
from takedown.store.models import Exchange

STATES = ("idle", "fetching", "backoff", "auth_failed")


class ExchangeCollector(Collector):
    def __init__(self, db: Database) -> None:
        self.db = db

    def collect(self) -> Iterator[Metric]:
        success = GaugeMetricFamily(
            "takedown_exchange_last_success_timestamp_seconds",
            "When the exchange's last fetch ended well (Unix time; 0: never)",
            labels=["exchange"],
        )
        added = CounterMetricFamily(
            "takedown_exchange_entries_added",
            "Entries the exchange added (or enabled again) in its bank",
            labels=["exchange"],
        )
        removed = CounterMetricFamily(
            "takedown_exchange_entries_removed",
            "Entries the exchange's feed withdrew (disabled in its bank)",
            labels=["exchange"],
        )
        errors = CounterMetricFamily(
            "takedown_exchange_errors", "Failed fetches of the exchange", labels=["exchange"]
        )
        progress = GaugeMetricFamily(
            "takedown_exchange_run_entries",
            "Entries read by the exchange's current (or last) fetch",
            labels=["exchange"],
        )
        state = GaugeMetricFamily(
            "takedown_exchange_state", "1 for the exchange's state", labels=["exchange", "state"]
        )
        with self.db.read() as session:
            rows = session.execute(
                select(
                    Exchange.name,
                    Exchange.last_success_at,
                    Exchange.entries_added,
                    Exchange.entries_removed,
                    Exchange.errors_total,
                    Exchange.run_entries,
                    Exchange.state,
                ).order_by(Exchange.name)
            ).all()
        for name, last, n_added, n_removed, n_errors, run, current in rows:
            success.add_metric([name], last.timestamp() if last else 0.0)
            added.add_metric([name], n_added)
            removed.add_metric([name], n_removed)
            errors.add_metric([name], n_errors)
            progress.add_metric([name], run)
            for each in STATES:
                state.add_metric([name, each], 1.0 if current == each else 0.0)
        yield from (success, added, removed, errors, progress, state)
