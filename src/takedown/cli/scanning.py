"""``takedown scan``: hash and match a whole folder tree into a JSON-lines file, resumably.

The output file is the checkpoint: every finished file is one complete line, appended and
flushed as soon as it is known, so a scan that is stopped (or crashes) resumes by skipping
the paths already written. A last line cut off mid-write is dropped and redone.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from rich.table import Table

from takedown.cli.hashing import hash_files, progress_bar
from takedown.cli.matching import match_file, match_record
from takedown.cli.output import stderr
from takedown.matching.matcher import Matcher
from takedown.signals import HashOptions


@dataclass
class ScanSummary:
    files: int = 0
    already_done: int = 0
    scanned: int = 0
    matched: int = 0
    errors: int = 0
    seconds: float = 0.0


def done_paths(out_path: Path) -> set[str]:
    """Paths already in the output; a trailing partial line is cut off so appends stay clean."""
    if not out_path.exists():
        return set()
    data = out_path.read_bytes()
    complete_end = data.rfind(b"\n") + 1
    if complete_end < len(data):
        with out_path.open("r+b") as f:
            f.truncate(complete_end)
    done = set()
    for line in data[:complete_end].splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and isinstance(record.get("path"), str):
            done.add(record["path"])
    return done


def run_scan(
    files: list[Path],
    matcher: Matcher,
    out_path: Path,
    options: HashOptions,
    *,
    jobs: int,
) -> ScanSummary:
    started = time.monotonic()
    summary = ScanSummary(files=len(files))
    done = done_paths(out_path)
    todo = [f for f in files if str(f) not in done]
    summary.already_done = len(files) - len(todo)
    err = stderr()
    with (
        out_path.open("a", encoding="utf-8") as out,
        progress_bar(err, len(todo), "scanning", enabled=True) as advance,
    ):
        for outcome in hash_files(todo, options, jobs):
            matches = match_file(outcome, matcher)
            out.write(json.dumps(match_record(outcome, matches), separators=(",", ":")) + "\n")
            out.flush()
            summary.scanned += 1
            summary.errors += outcome.error is not None
            summary.matched += bool(matches)
            advance()
    summary.seconds = time.monotonic() - started
    return summary


def summary_table(summary: ScanSummary, out_path: Path) -> Table:
    table = Table(title=f"scan -> {out_path}")
    for column in ("files", "already done", "scanned", "matched", "errors", "time"):
        table.add_column(column, justify="right")
    table.add_row(
        str(summary.files),
        str(summary.already_done),
        str(summary.scanned),
        f"[bold red]{summary.matched}[/bold red]" if summary.matched else "0",
        f"[yellow]{summary.errors}[/yellow]" if summary.errors else "0",
        f"{summary.seconds:.1f} s",
    )
    return table
