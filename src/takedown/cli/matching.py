"""``takedown match`` and ``takedown bank from-media``: hash files and look them up in banks."""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from takedown.cli.hashing import FileOutcome, hash_files, progress_bar
from takedown.matching.banks import Bank, BankEntry, BankFormat, write_bank
from takedown.matching.matcher import Matcher
from takedown.signals import HashOptions, Signal, VideoSignal


def match_outcome_json(outcome: FileOutcome, matcher: Matcher) -> dict[str, object]:
    if outcome.error is not None or outcome.result is None:
        return outcome.to_json()
    matches = matcher.match(outcome.result.signals)
    return {"path": outcome.path, "matches": [m.to_json() for m in matches]}


def run_match(
    files: list[Path],
    banks: list[Bank],
    options: HashOptions,
    *,
    threshold: int | None,
    jobs: int,
    as_json: bool,
    show_progress: bool,
) -> tuple[int, int]:
    """Print one result per file; returns (files matched, files failed)."""
    matcher = Matcher(threshold)
    for bank in banks:
        matcher.add_bank(bank)
    out = Console(highlight=False, soft_wrap=True)
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    matched = failed = 0
    with progress_bar(err, len(files), "matching", enabled=show_progress) as advance:
        for outcome in hash_files(files, options, jobs):
            record = match_outcome_json(outcome, matcher)
            found = record.get("matches")
            failed += outcome.error is not None
            matched += bool(found)
            if as_json:
                print(json.dumps(record, separators=(",", ":")))
            elif outcome.error is not None:
                err.print(f"{escape(outcome.path)}\t[red]{outcome.error.code}[/red]")
            elif isinstance(found, list) and found:
                for m in found:
                    assert isinstance(m, dict)
                    out.print(
                        f"{outcome.path}\tMATCH\t{m['bank']}\t{m['external_id']}\t"
                        f"{m['signal_type']}\tdistance {m['distance']}\t{m['transform'] or ''}",
                        markup=False,
                    )
            else:
                out.print(f"{outcome.path}\tno match", markup=False)
            advance()
    return matched, failed


def bank_entries(outcome: FileOutcome, label: str, source: str) -> list[BankEntry]:
    """What a bank stores for one file: every hash takedown makes of it."""
    assert outcome.result is not None
    entries = []
    external_id = Path(outcome.path).name
    for signal in outcome.result.signals:
        if isinstance(signal, VideoSignal):
            value = ";".join(f"{f.value},{f.quality},{f.timestamp:.3f}" for f in signal.frames)
            entries.append(BankEntry("vpdq", value, label, source, external_id))
        elif isinstance(signal, Signal) and signal.usable:
            entries.append(BankEntry(signal.type, signal.value, label, source, external_id))
    return entries


def run_bank_from_media(
    files: list[Path],
    out_path: Path,
    options: HashOptions,
    *,
    label: str,
    source: str,
    jobs: int,
    show_progress: bool,
) -> tuple[int, int]:
    """Write a CSV bank of every file's hashes; returns (entries written, files failed)."""
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    entries: list[BankEntry] = []
    failed = 0
    with progress_bar(err, len(files), "hashing", enabled=show_progress) as advance:
        for outcome in hash_files(files, options, jobs):
            if outcome.error is not None:
                failed += 1
                err.print(f"{escape(outcome.path)}\t[red]{outcome.error.code}[/red]")
            else:
                entries.extend(bank_entries(outcome, label, source))
            advance()
    fmt = BankFormat.from_path(out_path)
    if fmt is BankFormat.PLAIN:
        fmt = BankFormat.CSV
    tmp = out_path.with_name(out_path.name + ".tmp")
    tmp.write_text(write_bank(entries, fmt))
    tmp.replace(out_path)  # never a half-written bank file
    return len(entries), failed
