"""NCMEC exchange fetch: N PDQ + M MD5 entries from the NCMEC stand-in (its synthetic mode, in
a process of its own) into a bank through python-threatexchange's client and the fetch engine,
against the API's bank import of as many entries, in the same run.

Each measurement runs in a fresh child process (its peak RSS is its own) on a fresh database,
with ``benchmarks/exchange_fetch.py``'s machinery (the hash-list fetch is measured there).

    python benchmarks/exchange_fetch_ncmec.py                       # 1,000,000 PDQ + 100,000 MD5
    python benchmarks/exchange_fetch_ncmec.py --pdq 20000 --md5 2000 --database sqlite
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._common import median, write_results  # noqa: E402
from benchmarks.exchange_fetch import (  # noqa: E402
    GOAL_PEAK_MB,
    GOAL_RATE,
    SECRET,
    child_import,
    fresh_database,
    measure,
    postgres_up,
    rss_mb,
    write_list,
)


@contextmanager
def ncmec_standin(pdq: int, md5: int) -> Iterator[str]:
    """The stand-in in its own process (its CPU and memory are not the fetch's)."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.exchange_standins.ncmec",
            "--pdq",
            str(pdq),
            "--md5",
            str(md5),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        yield process.stdout.readline().strip()
    finally:
        process.terminate()
        process.wait(timeout=30)


def _child_fetch(url: str, ncmec_url: str, out: Any) -> None:
    from datetime import UTC, datetime

    from tests.exchange_standins.ncmec import NcmecStandin

    from takedown.service import exchanges as exchange_service
    from takedown.service.exchange_fetch import fetch_exchange
    from takedown.store.db import Database

    db = Database(url)
    standin = NcmecStandin()
    with db.write() as session:
        exchange_service.create_exchange(
            session,
            exchange_service.ExchangeSpec(
                name="bench",
                kind="ncmec",
                bank="bench",
                options={"url": ncmec_url},
                credentials={"user": standin.user, "password": standin.password},
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
            "status": f"{result.status} {result.error}".strip(),
            "peak_mb": rss_mb(),
            "before_mb": before,
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pdq", type=int, default=1_000_000)
    parser.add_argument("--md5", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], action="append")
    args = parser.parse_args()
    kinds = args.database or ["sqlite", "postgresql"]
    total = args.pdq + args.md5
    rows: list[dict[str, Any]] = []
    with (
        tempfile.TemporaryDirectory(prefix="bench-ncmec-") as tmp,
        ncmec_standin(args.pdq, args.md5) as ncmec_url,
    ):
        folder = Path(tmp)
        path = folder / "list.csv"
        write_list(path, args.pdq, args.md5)
        for kind in kinds:
            if kind == "postgresql" and not postgres_up():
                print("postgresql: not reachable; skipped")
                continue
            fetches, imports = [], []
            for _ in range(args.rounds):
                with fresh_database(kind, folder) as url:
                    fetches.append(measure(_child_fetch, url, ncmec_url))
                with fresh_database(kind, folder) as url:
                    imports.append(measure(child_import, url, str(path)))
            for name, runs in (("NCMEC fetch", fetches), ("API bank import", imports)):
                bad = [r for r in runs if r["entries"] != total]
                if bad:
                    raise SystemExit(
                        f"{kind} {name}: wrote {bad[0]['entries']} of {total} ({bad[0]['status']})"
                    )
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
                    f"peak RSS {rows[-1]['peak_rss_mb']} MB (+{rows[-1]['rss_above_start_mb']} MB)"
                )
    lines = [
        f"NCMEC fetch (stand-in, python-threatexchange's client) vs API bank import: "
        f"{args.pdq:,} PDQ + {args.md5:,} MD5 entries, median of {args.rounds} round(s) "
        f"(goal >= {GOAL_RATE:,} entries/s, <= {GOAL_PEAK_MB} MB peak)",
        "",
        "| database | what | entries/s | seconds | peak RSS MB | above start MB | vs import |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        base = next(
            r for r in rows if r["database"] == row["database"] and r["what"] == "API bank import"
        )
        lines.append(
            f"| {row['database']} | {row['what']} | {row['entries_per_s']:,} | {row['seconds']} "
            f"| {row['peak_rss_mb']} | {row['rss_above_start_mb']} "
            f"| {row['entries_per_s'] / base['entries_per_s']:.2f}x |"
        )
    markdown = "\n".join(lines)
    print("\n" + markdown)
    write_results(
        "exchange_fetch_ncmec",
        {"pdq": args.pdq, "md5": args.md5, "rounds": args.rounds, "rows": rows},
        markdown,
    )


if __name__ == "__main__":
    main()
