"""Hash banks: named lists of signals with provenance, and their file formats.

Three formats are read and written: CSV with the header
``signal_type,value,label,source,external_id`` (only the first two columns required), JSON
lines with the same fields, and plain hash-per-line files whose type is given by the caller.
A file with any malformed line imports nothing unless the caller asks to skip bad lines,
because a half-imported hash list is a silent hole in what gets blocked.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path, PurePath

from takedown.signals import AnySignal, InvalidSignal, get
from takedown.signals.wire import stored_value

BANK_FIELDS = ("signal_type", "value", "label", "source", "external_id")


class BankFormat(StrEnum):
    CSV = "csv"
    JSONL = "jsonl"
    PLAIN = "plain"

    @classmethod
    def from_path(cls, path: PurePath) -> BankFormat:
        suffix = path.suffix.lower()
        if suffix == ".csv":
            return cls.CSV
        if suffix in (".jsonl", ".ndjson", ".json"):
            return cls.JSONL
        return cls.PLAIN


@dataclass(frozen=True)
class BankEntry:
    """One signal in a bank with its provenance; ``enabled=False`` keeps a false positive on
    record without matching it. ``added_at``/``added_by`` are kept by the service's storage and
    are not part of the exchange formats."""

    signal_type: str
    value: str
    label: str = ""
    source: str = ""
    external_id: str = ""
    enabled: bool = True
    added_at: str = ""
    added_by: str = ""
    transform: str = ""
    """The service's own: the turn or crop of the reference this hash was taken of (see
    ``matching.transforms``); not part of the exchange formats."""


@dataclass(frozen=True)
class LineProblem:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


class BankFileError(ValueError):
    """A bank file with malformed lines; ``problems`` names each by line number."""

    def __init__(self, path: str, problems: list[LineProblem]) -> None:
        shown = "; ".join(str(p) for p in problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        super().__init__(
            f"{path}: {len(problems)} malformed line(s), nothing imported: {shown}{more}. "
            "Fix the lines, or pass --skip-bad to import the rest."
        )
        self.problems = problems


@dataclass
class Bank:
    name: str
    entries: list[BankEntry] = field(default_factory=list)
    skipped: list[LineProblem] = field(default_factory=list)


def canonical_value(signal_type: str, value: str) -> str:
    """Validate a serialized signal through its type's own ``parse``."""
    try:
        kind = get(signal_type)
    except KeyError as exc:
        raise InvalidSignal(str(exc.args[0])) from None
    return kind.parse(value)


def _entry(fields: dict[str, str], added_at: str, added_by: str) -> BankEntry:
    signal_type = (fields.get("signal_type") or "").strip().lower()
    if not signal_type:
        raise InvalidSignal("signal_type is missing")
    value = fields.get("value") or ""
    return BankEntry(
        signal_type=signal_type,
        value=canonical_value(signal_type, value),
        label=(fields.get("label") or "").strip(),
        source=(fields.get("source") or "").strip(),
        external_id=(fields.get("external_id") or "").strip(),
        added_at=added_at,
        added_by=added_by,
    )


def _csv_rows(lines: Iterable[str]) -> Iterator[tuple[int, dict[str, str] | str]]:
    reader = csv.reader(lines)
    header = next(reader, None)
    if header is None:
        return
    names = [h.strip().lower() for h in header]
    if names[:2] != ["signal_type", "value"]:
        yield 1, f"the header must start with signal_type,value (columns: {','.join(BANK_FIELDS)})"
        return
    unknown = [n for n in names if n not in BANK_FIELDS]
    if unknown:
        yield 1, f"unknown column(s) {', '.join(unknown)}; allowed: {', '.join(BANK_FIELDS)}"
        return
    for row in reader:
        if not any(cell.strip() for cell in row):
            continue
        if len(row) > len(names):
            yield reader.line_num, f"{len(row)} fields, the header has {len(names)}"
            continue
        yield reader.line_num, dict(zip(names, row, strict=False))


def _jsonl_rows(lines: Iterable[str]) -> Iterator[tuple[int, dict[str, str] | str]]:
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            yield number, f"not JSON ({exc.msg})"
            continue
        if not isinstance(record, dict):
            yield number, "each line must be a JSON object"
            continue
        yield number, {k: str(v) for k, v in record.items() if v is not None}


def _plain_rows(
    lines: Iterable[str], signal_type: str
) -> Iterator[tuple[int, dict[str, str] | str]]:
    for number, line in enumerate(lines, start=1):
        value = line.strip()
        if value and not value.startswith("#"):
            yield number, {"signal_type": signal_type, "value": value}


def iter_entries(
    lines: Iterable[str],
    fmt: BankFormat,
    *,
    signal_type: str | None = None,
    added_by: str = "",
) -> Iterator[BankEntry | LineProblem]:
    """Stream a bank file's entries and malformed lines, in file order (a million-line import
    never holds the whole file). Every entry is stamped with the time and ``added_by``."""
    added_at = datetime.now(UTC).isoformat(timespec="seconds")
    if fmt is BankFormat.PLAIN:
        if not signal_type:
            raise ValueError("a plain hash-per-line file needs its signal type (e.g. --type pdq)")
        rows = _plain_rows(lines, signal_type)
    elif fmt is BankFormat.CSV:
        rows = _csv_rows(lines)
    else:
        rows = _jsonl_rows(lines)
    for number, row in rows:
        if isinstance(row, str):
            yield LineProblem(number, row)
            continue
        try:
            yield _entry(row, added_at, added_by)
        except InvalidSignal as exc:
            yield LineProblem(number, str(exc))


def parse_bank(
    text: str,
    fmt: BankFormat,
    *,
    name: str,
    signal_type: str | None = None,
    skip_bad: bool = False,
    added_by: str = "",
) -> Bank:
    """Read a bank; raise :class:`BankFileError` on malformed lines unless ``skip_bad``."""
    bank = Bank(name=name)
    lines = text.splitlines(keepends=fmt is BankFormat.CSV)
    for item in iter_entries(lines, fmt, signal_type=signal_type, added_by=added_by):
        if isinstance(item, LineProblem):
            bank.skipped.append(item)
        else:
            bank.entries.append(item)
    if bank.skipped and not skip_bad:
        raise BankFileError(name, bank.skipped)
    return bank


def read_bank(
    path: Path,
    *,
    fmt: BankFormat | None = None,
    signal_type: str | None = None,
    skip_bad: bool = False,
) -> Bank:
    text = path.read_text(encoding="utf-8-sig")
    return parse_bank(
        text,
        fmt or BankFormat.from_path(path),
        name=path.stem,
        signal_type=signal_type,
        skip_bad=skip_bad,
    )


def write_bank(entries: Iterable[BankEntry], fmt: BankFormat) -> str:
    """Serialise entries in one of the import formats (round-trips through :func:`parse_bank`)."""
    if fmt is BankFormat.PLAIN:
        return "".join(f"{e.value}\n" for e in entries)
    if fmt is BankFormat.JSONL:
        return "".join(
            json.dumps({k: v for k, v in asdict(e).items() if k in BANK_FIELDS}) + "\n"
            for e in entries
        )
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(BANK_FIELDS)
    for e in entries:
        writer.writerow([getattr(e, f) for f in BANK_FIELDS])
    return out.getvalue()


def save_bank(path: Path, entries: Iterable[BankEntry], fmt: BankFormat) -> None:
    """Write a bank file atomically (a temporary file renamed over it): never half a bank."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(write_bank(entries, fmt))
    tmp.replace(path)


def entries_for(
    signals: Iterable[AnySignal], label: str, source: str, external_id: str
) -> list[BankEntry]:
    """What a bank stores for one item: every signal strong enough to keep, one external id."""
    entries = []
    for signal in signals:
        value = stored_value(signal)
        if value is not None:
            entries.append(BankEntry(signal.type, value, label, source, external_id))
    return entries
