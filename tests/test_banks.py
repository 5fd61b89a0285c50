"""Bank files: the three formats, line-numbered errors, nothing half-imported."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from takedown.matching.banks import (
    BankEntry,
    BankFileError,
    BankFormat,
    parse_bank,
    read_bank,
    write_bank,
)

from .conftest import run_takedown

PDQ = "f" * 64
PDQ2 = "0" * 63 + "1"
MD5 = hashlib.md5(b"x").hexdigest()


def test_csv_with_only_the_required_columns() -> None:
    bank = parse_bank(
        f"signal_type,value\npdq,{PDQ.upper()}\nmd5,{MD5}\n", BankFormat.CSV, name="b"
    )
    assert [(e.signal_type, e.value) for e in bank.entries] == [("pdq", PDQ), ("md5", MD5)]


def test_malformed_lines_are_reported_by_number_and_nothing_is_imported() -> None:
    text = f"signal_type,value,label\npdq,{PDQ},ok\npdq,xyz,bad\nphotodna,{PDQ},bad\nmd5,{MD5},ok\n"
    with pytest.raises(BankFileError) as info:
        parse_bank(text, BankFormat.CSV, name="b")
    assert [p.line for p in info.value.problems] == [3, 4]
    assert "--skip-bad" in str(info.value)
    bank = parse_bank(text, BankFormat.CSV, name="b", skip_bad=True)
    assert [e.label for e in bank.entries] == ["ok", "ok"]
    assert [p.line for p in bank.skipped] == [3, 4]


def test_bad_header_is_an_error() -> None:
    with pytest.raises(BankFileError):
        parse_bank(f"hash\n{PDQ}\n", BankFormat.CSV, name="b")


def test_jsonl_and_plain() -> None:
    lines = [json.dumps({"signal_type": "pdq", "value": PDQ, "external_id": "n1"}), "not json"]
    with pytest.raises(BankFileError) as info:
        parse_bank("\n".join(lines), BankFormat.JSONL, name="b")
    assert info.value.problems[0].line == 2
    plain = parse_bank(
        f"# comment\n{PDQ}\n\n{PDQ2}\n", BankFormat.PLAIN, name="b", signal_type="pdq"
    )
    assert [e.value for e in plain.entries] == [PDQ, PDQ2]
    with pytest.raises(ValueError, match="signal type"):
        parse_bank(PDQ, BankFormat.PLAIN, name="b")


@pytest.mark.parametrize("fmt", list(BankFormat))
def test_round_trip(fmt: BankFormat, tmp_path: Path) -> None:
    entries = [
        BankEntry("pdq", PDQ, "label, with comma", "ncmec", "id-1"),
        BankEntry("pdq", PDQ2, "", "", ""),
    ]
    path = tmp_path / {"csv": "b.csv", "jsonl": "b.jsonl", "plain": "b.txt"}[fmt.value]
    path.write_text(write_bank(entries, fmt))
    bank = read_bank(path, signal_type="pdq")
    if fmt is BankFormat.PLAIN:
        assert [e.value for e in bank.entries] == [PDQ, PDQ2]
    else:
        assert [
            (e.signal_type, e.value, e.label, e.source, e.external_id) for e in bank.entries
        ] == [(e.signal_type, e.value, e.label, e.source, e.external_id) for e in entries]
    assert bank.name == "b"
    assert all(e.added_at and e.enabled for e in bank.entries)


def test_bank_convert_cli(tmp_path: Path) -> None:
    plain = tmp_path / "ncmec.txt"
    plain.write_text(f"{PDQ}\n{PDQ2}\n")
    out = tmp_path / "ncmec.jsonl"
    proc = run_takedown("bank", "convert", str(plain), "--type", "pdq", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert [e.value for e in read_bank(out).entries] == [PDQ, PDQ2]
    bad = tmp_path / "bad.csv"
    bad.write_text(f"signal_type,value\npdq,{PDQ}\nmd5,zz\n")
    proc = run_takedown("bank", "convert", str(bad), "--out", str(out))
    assert proc.returncode == 2 and "line 3" in proc.stderr
    assert [e.value for e in read_bank(out).entries] == [PDQ, PDQ2]  # untouched
