"""Exchange fetch throughput and memory: N PDQ + M MD5 entries fetched from a hash list
stand-in into a bank, against the API's bank import of the same entries, in the same run.

Each measurement runs in a fresh child process (so its peak RSS is its own) on a fresh
database; the stand-in serves a pre-written CSV file in chunks over local HTTP, with an ETag.
Reported: entries/s (median of the rounds) and the child's peak RSS (and the part above its
RSS once everything is imported, i.e. what the work itself took).

    python benchmarks/exchange_fetch.py                       # 1,000,000 PDQ + 100,000 MD5
    python benchmarks/exchange_fetch.py --pdq 50000 --md5 5000 --rounds 3
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import secrets
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import median, write_results

PG_SERVER = os.environ.get(
    "TAKEDOWN_TEST_POSTGRES", "postgresql+psycopg://root@localhost:5432/test"
)
SECRET = "benchmark-service-secret"
GOAL_RATE = 50_000
GOAL_PEAK_MB = 300


def write_list(path: Path, pdq: int, md5: int) -> int:
    """The CSV hash list: random PDQ then MD5 hashes, each with an external id and a label."""
    with path.open("w") as out:
        out.write("signal_type,value,label,external_id\n")
        for i in range(pdq):
            out.write(f"pdq,{secrets.token_hex(32)},csam,p{i}\n")
        for i in range(md5):
            out.write(f"md5,{secrets.token_hex(16)},csam,m{i}\n")
    return pdq + md5


@contextmanager
def serve_file(path: Path) -> Iterator[str]:
    size = path.stat().st_size

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/csv")
            self.send_header("Content-Length", str(size))
            self.send_header("ETag", '"bench"')
            self.end_headers()
            with path.open("rb") as source:
                while chunk := source.read(1 << 16):
                    self.wfile.write(chunk)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/list.csv"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def fresh_database(kind: str, folder: Path) -> Iterator[str]:
    from sqlalchemy import create_engine, text

    from takedown.store.migrate import upgrade

    if kind == "sqlite":
        url = f"sqlite:///{folder / f'bench-{uuid.uuid4().hex[:8]}.db'}"
        upgrade(url)
        yield url
        return
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_SERVER, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        url = f"{PG_SERVER}?options=-csearch_path%3D{schema}"
        upgrade(url)
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _child_fetch(url: str, list_url: str, page_size: int, out: Any) -> None:
    from datetime import UTC, datetime

    from takedown.service import exchanges as exchange_service
    from takedown.service.exchange_fetch import fetch_exchange
    from takedown.store.db import Database

    db = Database(url)
    with db.write() as session:
        exchange_service.create_exchange(
            session,
            exchange_service.ExchangeSpec(
                name="bench",
                kind="hash_list",
                bank="bench",
                options={"url": list_url, "page_size": str(page_size)},
            ),
            secret=SECRET,
            actor="bench",
            now=datetime.now(UTC),
        )
    before = rss_mb()
    started = time.perf_counter()
    result = fetch_exchange(db, "bench", secret=SECRET)
    seconds = time.perf_counter() - started
    db.dispose()
    out.put(
        {
            "seconds": seconds,
            "entries": result.added,
            "status": result.status,
            "peak_mb": rss_mb(),
            "before_mb": before,
        }
    )


def child_import(url: str, path: str, out: Any) -> None:
    from fastapi.testclient import TestClient

    from takedown.api.app import create_app
    from takedown.auth.accounts import create_key
    from takedown.auth.scopes import Scope
    from takedown.config import Settings
    from takedown.store.db import Database

    home = Path(tempfile.mkdtemp(prefix="bench-home-"))
    db = Database(url)
    with db.write() as session:
        key = create_key(session, "bench", frozenset({Scope.BANKS_WRITE}), actor="bench")[1]
    settings = Settings(home=home, database_url=url, background_worker=False)
    app = create_app(settings, db=db)
    headers = {"Authorization": f"Bearer {key}"}
    with TestClient(app) as client:
        client.post("/v1/banks", json={"name": "bench"}, headers=headers)
        before = rss_mb()
        started = time.perf_counter()
        with Path(path).open("rb") as upload:
            answer = client.post(
                "/v1/banks/bench/import",
                files={"file": ("list.csv", upload, "text/csv")},
                headers=headers,
            )
        seconds = time.perf_counter() - started
    db.dispose()
    added = answer.json().get("added", 0) if answer.status_code == 200 else 0
    out.put(
        {
            "seconds": seconds,
            "entries": added,
            "status": str(answer.status_code),
            "peak_mb": rss_mb(),
            "before_mb": before,
        }
    )


def measure(target: Any, *args: Any) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(target=target, args=(*args, queue))
    child.start()
    result: dict[str, Any] = queue.get(timeout=3600)
    child.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pdq", type=int, default=1_000_000)
    parser.add_argument("--md5", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--page-size", type=int, default=10_000)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], action="append")
    args = parser.parse_args()
    kinds = args.database or ["sqlite", "postgresql"]
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-exchanges-") as tmp:
        folder = Path(tmp)
        path = folder / "list.csv"
        total = write_list(path, args.pdq, args.md5)
        print(
            f"hash list: {args.pdq:,} PDQ + {args.md5:,} MD5 = {total:,} entries, "
            f"{path.stat().st_size / 1e6:.0f} MB"
        )
        with serve_file(path) as list_url:
            for kind in kinds:
                if kind == "postgresql" and not postgres_up():
                    print("postgresql: not reachable; skipped")
                    continue
                fetches, imports = [], []
                for _ in range(args.rounds):
                    with fresh_database(kind, folder) as url:
                        fetches.append(measure(_child_fetch, url, list_url, args.page_size))
                    with fresh_database(kind, folder) as url:
                        imports.append(measure(child_import, url, str(path)))
                for name, runs in (("exchange fetch", fetches), ("API bank import", imports)):
                    bad = [r for r in runs if r["entries"] != total]
                    if bad:
                        raise SystemExit(f"{kind} {name}: wrote {bad[0]['entries']} of {total}")
                    seconds = median([r["seconds"] for r in runs])
                    rows.append(
                        {
                            "database": kind,
                            "what": name,
                            "entries": total,
                            "seconds": round(seconds, 2),
                            "entries_per_s": round(total / seconds),
                            "peak_rss_mb": round(max(r["peak_mb"] for r in runs)),
                            "rss_above_start_mb": round(
                                max(r["peak_mb"] - r["before_mb"] for r in runs)
                            ),
                        }
                    )
                    print(
                        f"{kind:10} {name:16} {rows[-1]['entries_per_s']:>9,} entries/s  "
                        f"peak RSS {rows[-1]['peak_rss_mb']} MB "
                        f"(+{rows[-1]['rss_above_start_mb']} MB)"
                    )
    lines = [
        f"Exchange fetch vs API bank import: {args.pdq:,} PDQ + {args.md5:,} MD5 entries, "
        f"median of {args.rounds} round(s), page size {args.page_size:,} "
        f"(goal >= {GOAL_RATE:,} entries/s, <= {GOAL_PEAK_MB} MB peak)",
        "",
        "| database | what | entries/s | seconds | peak RSS MB | above start MB | vs import |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        base = next(
            r for r in rows if r["database"] == row["database"] and r["what"] == "API bank import"
        )
        ratio = row["entries_per_s"] / base["entries_per_s"]
        lines.append(
            f"| {row['database']} | {row['what']} | {row['entries_per_s']:,} | {row['seconds']} "
            f"| {row['peak_rss_mb']} | {row['rss_above_start_mb']} | {ratio:.2f}x |"
        )
    markdown = "\n".join(lines)
    print("\n" + markdown)
    write_results(
        "exchange_fetch",
        {"pdq": args.pdq, "md5": args.md5, "rounds": args.rounds, "rows": rows},
        markdown,
    )


def postgres_up() -> bool:
    from sqlalchemy import create_engine, text

    engine = create_engine(PG_SERVER, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return True
    except Exception:
        return False
    finally:
        engine.dispose()


if __name__ == "__main__":
    main()
