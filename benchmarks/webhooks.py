"""Webhook benchmark: P0 restrictions to a healthy receiver while another receiver is dead.

Run: ``make bench-webhooks``.

What it does, in one run, twice (each on a fresh SQLite home, or ``--database-url``):
1. ``takedown serve`` as a child process (its background worker delivers webhooks), default
   delivery settings (2 s connect, 10 s read timeout, 4 in flight per receiver, breaker after
   5 failures), loopback receivers allowed;
2. a healthy receiver (answers 200 at once) and, in the second pass only, a dead one: it
   accepts the TCP connection and never answers, so each request to it waits its full timeout;
3. content registered (not timed); then P0 reports on it, each timed from its request to the
   healthy receiver getting its ``restrict``: ``--paced`` reports at ``--rate`` per second
   (latency at an ordinary load), then a burst of ``--reports`` from ``--clients`` threads
   as fast as the service takes them (throughput).
Reported: P0 restrictions delivered per second to the healthy receiver (reports / time from
the first report to the last delivery), median and p99 report -> delivered, for the baseline
(healthy receiver only) and with the dead receiver, and the burst throughputs' ratio.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from _common import write_results
from takedown.auth.accounts import create_key
from takedown.auth.scopes import Scope
from takedown.store.db import Database
from takedown.store.migrate import upgrade


class Healthy:
    """A receiver that answers 200 at once and notes when each restriction arrived."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}
        self.requests = 0
        self._lock = threading.Lock()

    @contextmanager
    def running(self) -> Iterator[str]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                now = time.monotonic()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()
                payload = json.loads(body)
                with receiver._lock:
                    receiver.requests += 1
                    if payload["action"] == "restrict":
                        receiver.arrived.setdefault(payload["content_id"], now)

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}/hook"
        finally:
            server.shutdown()
            server.server_close()


@contextmanager
def dead_receiver() -> Iterator[str]:
    """Accepts TCP connections (the kernel does, from the backlog) and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4096)
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/hook"
    finally:
        listener.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_ready(base: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit("the server did not become ready")


def percentile(values: list[float], share: float) -> float:
    """Nearest rank: an observed value."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def p0_report(client: httpx.Client, content_id: str) -> None:
    answer = client.post(
        "/v1/reports",
        json={
            "content": [{"content_id": content_id}],
            "category": "child_sexual_abuse",
            "minor_depicted": "yes",
            "relationship": "parent_or_guardian",
        },
    )
    assert answer.status_code == 201, answer.text


def summary(
    ids: list[str], sent: dict[str, float], healthy: Healthy, started: float
) -> dict[str, float]:
    deadline = time.monotonic() + 120
    while any(c not in healthy.arrived for c in ids) and time.monotonic() < deadline:
        time.sleep(0.01)
    missing = [c for c in ids if c not in healthy.arrived]
    if missing:
        raise SystemExit(f"{len(missing)} of {len(ids)} restrictions never arrived")
    latencies = [(healthy.arrived[c] - sent[c]) * 1000 for c in ids]
    last = max(healthy.arrived[c] for c in ids)
    return {
        "per_s": len(ids) / (last - started),
        "median_ms": statistics.median(latencies),
        "p99_ms": percentile(latencies, 0.99),
        "max_ms": max(latencies),
    }


def one_pass(args: argparse.Namespace, with_dead: bool) -> dict[str, dict[str, float]]:
    home = Path(tempfile.mkdtemp(prefix="takedown-bench-webhooks-"))
    url = args.database_url or f"sqlite:///{home / 'takedown.db'}"
    if args.database_url:
        schema = f"bench_{uuid.uuid4().hex[:12]}"
        admin = Database(args.database_url)
        with admin.engine.connect() as connection:
            connection.exec_driver_sql(f"CREATE SCHEMA {schema}")
            connection.commit()
        admin.dispose()
        url = f"{args.database_url}?options=-csearch_path%3D{schema}"
    upgrade(url)
    db = Database(url)
    with db.write() as session:
        _, key = create_key(session, "bench", frozenset({Scope.ADMIN}), actor="bench")
    db.dispose()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "TAKEDOWN_HOME": str(home),
        "TAKEDOWN_DATABASE_URL": url,
        "TAKEDOWN_PORT": str(port),
        "TAKEDOWN_LOG_LEVEL": "WARNING",
        "TAKEDOWN_KEY_CACHE_S": "60",
        "TAKEDOWN_REPORT_RATE_PER_IP": "1000000",
        "TAKEDOWN_REPORT_RATE_TOTAL": "1000000",
        "TAKEDOWN_WEBHOOK_ALLOW_NETWORKS": '["127.0.0.0/8"]',
    }
    healthy = Healthy()
    headers = {"Authorization": f"Bearer {key}"}
    server = subprocess.Popen(
        [sys.executable, "-m", "takedown", "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    results: dict[str, dict[str, float]] = {}
    try:
        with (
            healthy.running() as healthy_url,
            dead_receiver() as dead_url,
            httpx.Client(base_url=base, headers=headers, timeout=30) as client,
        ):
            wait_ready(base)
            if with_dead:  # registered first, so it is never behind the healthy one
                assert client.post("/v1/webhooks", json={"url": dead_url}).status_code == 201
            assert client.post("/v1/webhooks", json={"url": healthy_url}).status_code == 201
            paced = [f"paced-{i}" for i in range(args.paced)]
            burst = [f"burst-{i}" for i in range(args.reports)]
            for content_id in ["warm-up", *paced, *burst]:
                answer = client.post(
                    "/v1/content",
                    json={
                        "content_id": content_id,
                        "signals": [{"type": "md5", "value": uuid.uuid4().hex}],
                    },
                )
                assert answer.status_code == 201, answer.text
            sent: dict[str, float] = {}
            p0_report(client, "warm-up")  # the process's first report and delivery
            summary(["warm-up"], {"warm-up": time.monotonic()}, healthy, time.monotonic())

            # 1. paced: one report every 1/rate s, each timed on its own
            started = time.monotonic()
            for i, content_id in enumerate(paced):
                time.sleep(max(0.0, started + i / args.rate - time.monotonic()))
                sent[content_id] = time.monotonic()
                p0_report(client, content_id)
            results["paced"] = summary(paced, sent, healthy, started)

            # 2. a burst from several clients, as fast as the service takes reports
            def report(content_id: str) -> None:
                with httpx.Client(base_url=base, headers=headers, timeout=30) as own:
                    sent[content_id] = time.monotonic()
                    p0_report(own, content_id)

            started = time.monotonic()
            with ThreadPoolExecutor(args.clients) as pool:
                list(pool.map(report, burst))
            results["burst"] = summary(burst, sent, healthy, started)
            results["burst"]["healthy_requests"] = float(healthy.requests)
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(home, ignore_errors=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--paced", type=int, default=50, help="P0 reports sent one by one")
    parser.add_argument("--rate", type=float, default=5.0, help="paced reports per second")
    parser.add_argument("--reports", type=int, default=300, help="P0 reports in the burst")
    parser.add_argument("--clients", type=int, default=4, help="client threads in the burst")
    parser.add_argument("--database-url", default="", help="PostgreSQL server URL (a schema each)")
    args = parser.parse_args()

    load_before = os.getloadavg()[0]
    passes = {
        "healthy receiver only (baseline)": one_pass(args, with_dead=False),
        "healthy + dead receiver": one_pass(args, with_dead=True),
    }
    load_after = os.getloadavg()[0]
    cores = os.cpu_count() or 1
    rows = []
    for name, phases in passes.items():
        for phase, r in phases.items():
            print(
                f"{name:34s} {phase:6s} {r['per_s']:7.1f} P0/s  median {r['median_ms']:7.1f} ms"
                f"  p99 {r['p99_ms']:7.1f} ms  max {r['max_ms']:7.1f} ms"
            )
            load = (
                f"paced, {args.rate:g}/s" if phase == "paced" else f"burst, {args.clients} clients"
            )
            rows.append(
                f"| {name} | {load} | {r['per_s']:.1f} | {r['median_ms']:.0f} | "
                f"{r['p99_ms']:.0f} | {r['max_ms']:.0f} |"
            )
    baseline = passes["healthy receiver only (baseline)"]
    dead = passes["healthy + dead receiver"]
    ratio = dead["burst"]["per_s"] / baseline["burst"]["per_s"]
    database = "PostgreSQL" if args.database_url else "SQLite"
    goal = dead["paced"]["p99_ms"] <= 1000
    table = "\n".join(rows)
    markdown = (
        f"`takedown serve` on loopback ({database}, its background worker delivering), default "
        "delivery settings. P0 reports on content registered beforehand, timed from the "
        "report's request to the healthy receiver getting the `restrict`: "
        f"{args.paced} paced at {args.rate:g}/s, then a burst of {args.reports} from "
        f"{args.clients} client threads as fast as the service takes them (throughput = "
        "reports / first report to last delivery). The dead receiver accepts TCP and never "
        "answers (each request to it waits the 10 s read timeout until its circuit opens); "
        "both passes in the same run.\n\n"
        "| receivers | load | P0 restrictions/s delivered | median ms | p99 ms | max ms |\n"
        f"|---|---|---|---|---|---|\n{table}\n\n"
        f"- burst throughput with a dead receiver = x{ratio:.2f} of the baseline's; paced P0 "
        f"to the healthy receiver within 1 s at p99 with the dead receiver: "
        f"{'met' if goal else 'NOT met'}.\n"
        f"- machine: {cores} cores, load average {load_before:.1f} before and "
        f"{load_after:.1f} after the run (the burst is bound by SQLite's one writer at a "
        "time: intake, claims and delivery records take turns)."
    )
    print(markdown)
    write_results(
        "webhooks",
        {
            "paced": args.paced,
            "rate": args.rate,
            "reports": args.reports,
            "clients": args.clients,
            "database": database,
            "results": passes,
            "with_dead_vs_baseline": ratio,
            "cores": cores,
            "load_average": [load_before, load_after],
        },
        markdown,
    )


if __name__ == "__main__":
    main()
