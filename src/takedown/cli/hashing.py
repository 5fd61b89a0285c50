"""``takedown hash``: hash files and folders, in parallel, one JSON line per file."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from takedown.cli.output import stderr, stdout
from takedown.media import MediaError
from takedown.signals import HashOptions, HashResult, Signal, hash_bytes


@dataclass(frozen=True)
class FileError:
    code: str
    message: str


@dataclass(frozen=True)
class FileOutcome:
    """What happened to one file: a result or an error, never both."""

    path: str
    result: HashResult | None = None
    error: FileError | None = None

    def to_json(self) -> dict[str, object]:
        if self.error is not None:
            return {
                "path": self.path,
                "error": {"code": self.error.code, "message": self.error.message},
            }
        assert self.result is not None
        return {
            "path": self.path,
            "media": self.result.media.value,
            "format": self.result.format,
            "signals": [s.to_json() for s in self.result.signals],
        }


def hash_file(path: str, options: HashOptions) -> FileOutcome:
    """Hash one file; every failure becomes a :class:`FileError` so that a batch continues."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        return FileOutcome(path, error=FileError("unreadable_file", f"cannot read: {exc.strerror}"))
    try:
        return FileOutcome(path, result=hash_bytes(data, options))
    except MediaError as exc:
        return FileOutcome(path, error=FileError(exc.code, exc.message))
    except Exception as exc:  # a decoder bug must not stop a batch of thousands
        return FileOutcome(path, error=FileError("internal_error", f"{type(exc).__name__}: {exc}"))


def _hash_file_star(args: tuple[str, HashOptions]) -> FileOutcome:
    return hash_file(*args)


FILES_PER_WORKER = 3
"""A worker process is started only for at least this many files: starting a pool costs about
as much as hashing one photo (20-30 ms measured here), so one to a few files are hashed in this
process, and a pool never has workers that would sit idle."""


def workers_for(files: int, jobs: int) -> int:
    """How many worker processes ``files`` files pay for, at most ``jobs``; 1 means none."""
    return max(1, min(jobs, files // FILES_PER_WORKER))


def hash_files(files: list[Path], options: HashOptions, jobs: int) -> Iterator[FileOutcome]:
    """Outcomes in input order; ``jobs`` > 1 spreads files over worker processes, when there
    are enough of them (:func:`workers_for`)."""
    work = [(str(f), options) for f in files]
    workers = workers_for(len(files), jobs)
    if workers <= 1:
        yield from map(_hash_file_star, work)
        return
    with ProcessPoolExecutor(max_workers=workers) as pool:
        yield from pool.map(_hash_file_star, work, chunksize=1)


def human_line(outcome: FileOutcome) -> str:
    if outcome.error is not None:
        path, message = escape(outcome.path), escape(outcome.error.message)
        return f"{path}\t[red]{outcome.error.code}[/red]\t{message}"
    assert outcome.result is not None
    parts = [outcome.path, outcome.result.media.value]
    for signal in outcome.result.signals:
        if isinstance(signal, Signal):
            detail = f"{signal.type}:{signal.value}"
            if signal.quality is not None:
                detail += f" q={signal.quality}"
            if signal.variant is not None and signal.variant.value != "original":
                detail += f" ({signal.variant.value})"
            parts.append(detail)
        else:
            parts.append(f"{signal.type}:{len(signal.frames)} frames")
    return "\t".join(parts)


@contextmanager
def progress_bar(
    console: Console, total: int, label: str, *, enabled: bool
) -> Iterator[Callable[[], None]]:
    """A rich progress bar on stderr; yields the function that advances it by one file."""
    progress = Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=not enabled,
    )
    with progress:
        task = progress.add_task(label, total=total)
        yield lambda: progress.advance(task)


def run_hash(
    files: list[Path],
    options: HashOptions,
    *,
    jobs: int,
    as_json: bool,
    show_progress: bool,
) -> int:
    """Hash ``files``, print the results, and return how many failed."""
    out, err = stdout(), stderr()
    failed = 0
    started = time.monotonic()
    with progress_bar(err, len(files), "hashing", enabled=show_progress) as advance:
        for outcome in hash_files(files, options, jobs):
            if outcome.error is not None:
                failed += 1
            if as_json:
                print(json.dumps(outcome.to_json(), separators=(",", ":")), flush=False)
            elif outcome.error is not None:
                err.print(human_line(outcome), markup=True)
            else:
                out.print(human_line(outcome), markup=False)
            advance()
    elapsed = time.monotonic() - started
    if show_progress or failed:
        err.print(
            f"hashed {len(files) - failed} of {len(files)} files in {elapsed:.1f} s"
            + (f"; {failed} failed (see the error codes above)" if failed else "")
        )
    return failed
