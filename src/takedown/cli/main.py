"""Entry point: ``takedown COMMAND``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from takedown import __version__
from takedown.cli import service
from takedown.cli.files import MissingPath, expand
from takedown.cli.hashing import run_hash
from takedown.cli.matching import run_bank_from_media, run_match
from takedown.cli.output import stderr
from takedown.cli.scanning import run_scan, summary_table
from takedown.matching.banks import Bank, BankFileError, BankFormat, read_bank, save_bank
from takedown.matching.matcher import Matcher
from takedown.media import FrameSampling, MediaLimits
from takedown.signals import HashOptions

app = typer.Typer(
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
app.add_typer(service.db_app, name="db")
app.add_typer(service.keys_app, name="keys")
app.add_typer(service.users_app, name="users")
app.add_typer(service.audit_app, name="audit")
app.add_typer(service.report_app, name="report")
app.add_typer(service.vault_app, name="vault")
app.command()(service.serve)
app.command()(service.worker)
app.command()(service.demo)


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
    err = stderr()
    (bank,) = _read_banks([source], bank_type, skip_bad)
    fmt = BankFormat.from_path(out)
    if fmt is BankFormat.PLAIN and len({e.signal_type for e in bank.entries}) > 1:
        err.print("[red]error:[/red] the bank mixes signal types; write .csv or .jsonl instead")
        raise typer.Exit(2)
    save_bank(out, bank.entries, fmt)
    err.print(f"wrote {len(bank.entries)} entries to {escape(str(out))}")
