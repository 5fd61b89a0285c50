"""``takedown match`` and ``takedown bank from-media``: hash files and look them up in banks."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from rich.markup import escape

from takedown.cli.hashing import FileOutcome, hash_files, progress_bar
from takedown.cli.output import stderr, stdout
from takedown.matching.banks import BankEntry, BankFormat, entries_for, save_bank
from takedown.matching.matcher import Match, Matcher
from takedown.media.video import REFERENCE_SAMPLING
from takedown.signals import HashOptions


def match_file(outcome: FileOutcome, matcher: Matcher) -> list[Match]:
    """The bank items a hashed file matches (none for a file that failed)."""
    return matcher.match(outcome.result.signals) if outcome.result is not None else []


def match_record(outcome: FileOutcome, matches: list[Match]) -> dict[str, object]:
    """The JSON line of ``match --json`` and ``scan``: matches, or the file's error."""
    if outcome.error is not None:
        return outcome.to_json()
    return {"path": outcome.path, "matches": [m.to_json() for m in matches]}


def run_match(
    files: list[Path],
    matcher: Matcher,
    options: HashOptions,
    *,
    jobs: int,
    as_json: bool,
    show_progress: bool,
) -> int:
    """Print one result per file; returns how many files failed."""
    out, err = stdout(), stderr()
    failed = 0
    with progress_bar(err, len(files), "matching", enabled=show_progress) as advance:
        for outcome in hash_files(files, options, jobs):
            matches = match_file(outcome, matcher)
            failed += outcome.error is not None
            if as_json:
                print(json.dumps(match_record(outcome, matches), separators=(",", ":")))
            elif outcome.error is not None:
                err.print(f"{escape(outcome.path)}\t[red]{outcome.error.code}[/red]")
            elif matches:
                for m in matches:
                    out.print(
                        f"{outcome.path}\tMATCH\t{m.bank}\t{m.external_id}\t{m.signal_type}\t"
                        f"distance {m.to_json()['distance']}\t{m.transform or ''}",
                        markup=False,
                    )
            else:
                out.print(f"{outcome.path}\tno match", markup=False)
            advance()
    return failed


def bank_entries(outcome: FileOutcome, label: str, source: str) -> list[BankEntry]:
    """What a bank stores for one file: every hash takedown makes of it."""
    assert outcome.result is not None
    return entries_for(outcome.result.signals, label, source, Path(outcome.path).name)


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
    """Write a bank of every file's hashes; returns (entries written, files failed). Videos
    are hashed as references: every frame, each distinct frame once (``REFERENCE_SAMPLING``),
    with their contrast-normalised frames (a dark copy is found)."""
    options = replace(options, video=REFERENCE_SAMPLING, normalise_video=True)
    err = stderr()
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
    save_bank(out_path, entries, BankFormat.CSV if fmt is BankFormat.PLAIN else fmt)
    return len(entries), failed
