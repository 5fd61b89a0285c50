"""Entry point: ``takedown COMMAND``.

Start-up is kept to what a command uses: this module imports only Typer, Rich and the media
limits (for the options' defaults); each command imports its own machinery when it runs, and
the service's command groups are registered lazily (:mod:`takedown.cli.lazy`), so that
``takedown --help`` loads no NumPy, FastAPI or SQLAlchemy and ``takedown hash`` no FFmpeg
until it meets a video.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape

from takedown import __version__
from takedown.cli.files import MissingPath, expand
from takedown.cli.lazy import LazyCommands
from takedown.cli.output import stderr
from takedown.media.limits import MediaLimits

if TYPE_CHECKING:
    from takedown.matching.banks import Bank
    from takedown.matching.matcher import Matcher

lazy = LazyCommands()
app = typer.Typer(
    cls=lazy.group_class,
    name="takedown",
    help="Find, take down and keep down CSAM and NCII, with every copy.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_DEFAULT_LIMITS = MediaLimits()

JobsOption = Annotated[
    int, typer.Option("--jobs", "-j", min=0, help="Worker processes (default: all cores).")
]
ThresholdOption = Annotated[
    int | None, typer.Option(min=0, max=256, help="PDQ/vPDQ frame distance (default 31).")
]
BanksOption = Annotated[
    list[Path], typer.Option("--bank", help="A bank file (CSV, JSON lines or plain); repeat.")
]
BankTypeOption = Annotated[
    str | None, typer.Option("--type", help="Signal type of plain hash-per-line banks.")
]
SkipBadOption = Annotated[
    bool, typer.Option("--skip-bad", help="Use a bank's good lines despite bad ones.")
]

bank_app = typer.Typer(help="Build and inspect hash banks.", no_args_is_help=True)
app.add_typer(bank_app, name="bank")
_SERVICE = "takedown.cli.service"
lazy.add(
    "serve",
    f"{_SERVICE}:serve",
    "Run the API with a background worker, on the embedded SQLite default unless configured.",
)
lazy.add(
    "worker",
    f"{_SERVICE}:worker",
    "Run background workers (webhook delivery) in the foreground until stopped.",
)
lazy.add(
    "demo",
    f"{_SERVICE}:demo",
    "takedown and the reference platform (Pixshare) on loopback, with staff accounts and "
    "sample media; Ctrl-C stops both.",
)
lazy.add("db", f"{_SERVICE}:db_app", "Database schema.")
lazy.add("keys", f"{_SERVICE}:keys_app", "API keys for platform clients.")
lazy.add("users", f"{_SERVICE}:users_app", "Staff accounts and their API tokens.")
lazy.add("audit", f"{_SERVICE}:audit_app", "The hash-chained audit log.")
lazy.add("report", f"{_SERVICE}:report_app", "Reports about the service.")
lazy.add("vault", f"{_SERVICE}:vault_app", "The evidence vault.")
lazy.add(
    "exchange",
    "takedown.cli.exchanges:exchange_app",
    "Hash-sharing exchanges (NCMEC, StopNCII, hash lists, other takedowns) that fill banks.",
)


@app.callback()
def main() -> None:
    """takedown: hashing, matching and case handling for a platform's trust-and-safety team."""


@app.command()
def version() -> None:
    """Print the version."""
    print(__version__)


@app.command("hash")
def hash_command(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders (walked recursively).")],
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object per line (a stable interface).")
    ] = False,
    jobs: JobsOption = 0,
    fps: Annotated[
        float,
        typer.Option(help="Video frames hashed per second; 0 hashes every frame (vPDQ native)."),
    ] = 1.0,
    full: Annotated[
        bool,
        typer.Option(
            "--full", help="Decode images and video frames in full (slower; the reference path)."
        ),
    ] = False,
    trim: Annotated[
        bool, typer.Option(help="Also hash images with uniform borders trimmed away.")
    ] = True,
    dihedral: Annotated[
        bool, typer.Option(help="Add the 8 rotation/flip variants of each PDQ hash.")
    ] = False,
    crops: Annotated[
        bool,
        typer.Option(help="Also hash a grid of 5% and 10% crops (for bank entries, not uploads)."),
    ] = False,
    max_bytes: Annotated[int, typer.Option(min=1, help="Largest file accepted, in bytes.")] = (
        _DEFAULT_LIMITS.max_bytes
    ),
    max_pixels: Annotated[
        int, typer.Option(min=1, help="Largest image or frame, in pixels (decompression bombs).")
    ] = _DEFAULT_LIMITS.max_pixels,
    max_duration: Annotated[
        float, typer.Option(min=0.001, help="Longest video accepted, in seconds.")
    ] = _DEFAULT_LIMITS.max_duration_s,
    max_frames: Annotated[int, typer.Option(min=1, help="Most video frames decoded.")] = (
        _DEFAULT_LIMITS.max_frames
    ),
    timeout: Annotated[
        float, typer.Option(min=0.001, help="Wall-time budget per file, in seconds.")
    ] = _DEFAULT_LIMITS.max_decode_s,
) -> None:
    """Hash images and videos: PDQ (with a border-trimmed variant), vPDQ, MD5 and SHA-256.

    Errors are reported per file and the rest continue; the exit status is 1 if any file failed.
    """
    from takedown.cli.hashing import run_hash
    from takedown.media import FrameSampling
    from takedown.signals import HashOptions

    err = stderr()
    files = _files_or_exit(paths, err)
    options = HashOptions(
        limits=MediaLimits(
            max_bytes=max_bytes,
            max_pixels=max_pixels,
            max_frames=max_frames,
            max_duration_s=max_duration,
            max_decode_s=timeout,
        ),
        fast=not full,
        trim=trim,
        dihedral=dihedral,
        crops=crops,
        video=FrameSampling(
            fps=fps or None,
            max_side=None if full else 512,
            fast_decode=not full and fps > 0,
        ),
    )
    failed = run_hash(
        files,
        options,
        jobs=_workers(jobs),
        as_json=as_json,
        show_progress=any(p.is_dir() for p in paths) or len(files) > 1,
    )
    raise typer.Exit(1 if failed else 0)


def _workers(jobs: int) -> int:
    """``--jobs 0`` (the default) means one worker per core."""
    return jobs or (os.cpu_count() or 1)


def _files_or_exit(paths: list[Path], err: Console) -> list[Path]:
    try:
        files = expand(paths)
    except MissingPath as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}; check the path and try again")
        raise typer.Exit(2) from None
    if not files:
        err.print("[red]error:[/red] no files found under the given folders")
        raise typer.Exit(2)
    return files


def _read_banks(paths: list[Path], signal_type: str | None, skip_bad: bool) -> list[Bank]:
    from takedown.matching.banks import BankFileError, read_bank

    err = stderr()
    banks = []
    for path in paths:
        try:
            bank = read_bank(path, signal_type=signal_type, skip_bad=skip_bad)
        except FileNotFoundError:
            err.print(f"[red]error:[/red] bank file {escape(str(path))} does not exist")
            raise typer.Exit(2) from None
        except (BankFileError, ValueError) as exc:
            err.print(f"[red]error:[/red] {escape(str(exc))}")
            raise typer.Exit(2) from None
        for problem in bank.skipped:
            err.print(f"[yellow]skipped[/yellow] {escape(str(path))} {escape(str(problem))}")
        banks.append(bank)
    return banks


def _matcher(
    paths: list[Path], signal_type: str | None, skip_bad: bool, threshold: int | None
) -> Matcher:
    from takedown.matching.matcher import Matcher

    matcher = Matcher(threshold)
    for bank in _read_banks(paths, signal_type, skip_bad):
        matcher.add_bank(bank)
    return matcher


@app.command("match")
def match_command(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders to look up.")],
    bank: BanksOption,
    threshold: ThresholdOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
    jobs: JobsOption = 0,
    bank_type: BankTypeOption = None,
    skip_bad: SkipBadOption = False,
) -> None:
    """Hash files and report every bank entry each one matches (rotated and mirrored too).

    Matches are data in the output; the exit status is 1 only when a file failed.
    """
    from takedown.cli.matching import run_match
    from takedown.signals import HashOptions

    err = stderr()
    files = _files_or_exit(paths, err)
    failed = run_match(
        files,
        _matcher(bank, bank_type, skip_bad, threshold),
        HashOptions(dihedral=True),
        jobs=_workers(jobs),
        as_json=as_json,
        show_progress=any(p.is_dir() for p in paths) or len(files) > 1,
    )
    raise typer.Exit(1 if failed else 0)


@app.command("scan")
def scan_command(
    folder: Annotated[Path, typer.Argument(help="Folder tree to scan.")],
    bank: BanksOption,
    out: Annotated[
        Path, typer.Option("--out", "-o", help="JSON-lines results; re-running resumes it.")
    ],
    threshold: ThresholdOption = None,
    jobs: JobsOption = 0,
    bank_type: BankTypeOption = None,
    skip_bad: SkipBadOption = False,
) -> None:
    """Hash and match a whole folder tree in parallel into --out (the same lines as `match`).

    Files already in --out are skipped, so an interrupted scan is resumed by running it again.
    """
    from takedown.cli.scanning import run_scan, summary_table
    from takedown.signals import HashOptions

    err = stderr()
    if not folder.is_dir():
        err.print(f"[red]error:[/red] {escape(str(folder))} is not a folder")
        raise typer.Exit(2)
    files = _files_or_exit([folder], err)
    summary = run_scan(
        files,
        _matcher(bank, bank_type, skip_bad, threshold),
        out,
        HashOptions(dihedral=True),
        jobs=_workers(jobs),
    )
    err.print(summary_table(summary, out))
    raise typer.Exit(1 if summary.errors else 0)


@bank_app.command("from-media")
def bank_from_media(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders to put in the bank.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Bank file to write (.csv/.jsonl).")],
    label: Annotated[str, typer.Option(help="Label for every entry.")] = "",
    source: Annotated[str, typer.Option(help="Where the media came from.")] = "",
    crops: Annotated[
        bool, typer.Option(help="Also store the crop grid, so cropped copies match.")
    ] = True,
    jobs: JobsOption = 0,
) -> None:
    """Hash media into a bank file: every PDQ variant, vPDQ, MD5 and SHA-256 of each file."""
    from takedown.cli.matching import run_bank_from_media
    from takedown.signals import HashOptions

    err = stderr()
    files = _files_or_exit(paths, err)
    written, failed = run_bank_from_media(
        files,
        out,
        HashOptions(crops=crops),
        label=label,
        source=source,
        jobs=_workers(jobs),
        show_progress=len(files) > 1,
    )
    err.print(f"wrote {written} entries from {len(files) - failed} files to {escape(str(out))}")
    raise typer.Exit(1 if failed else 0)


@bank_app.command("convert")
def bank_convert(
    source: Annotated[Path, typer.Argument(help="Bank file to read (.csv, .jsonl or plain).")],
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Bank file to write (.csv/.jsonl/.txt).")
    ],
    bank_type: BankTypeOption = None,
    skip_bad: SkipBadOption = False,
) -> None:
    """Validate a bank file and write it in another format (by the output's extension).

    A plain output keeps only the values, so it is refused for banks mixing signal types.
    """
    from takedown.matching.banks import BankFormat, save_bank

    err = stderr()
    (bank,) = _read_banks([source], bank_type, skip_bad)
    fmt = BankFormat.from_path(out)
    if fmt is BankFormat.PLAIN and len({e.signal_type for e in bank.entries}) > 1:
        err.print("[red]error:[/red] the bank mixes signal types; write .csv or .jsonl instead")
        raise typer.Exit(2)
    save_bank(out, bank.entries, fmt)
    err.print(f"wrote {len(bank.entries)} entries to {escape(str(out))}")
