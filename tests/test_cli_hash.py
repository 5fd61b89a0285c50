"""``takedown hash`` as a script would use it: real processes, real files, JSON lines."""

from __future__ import annotations

import json
import re
from pathlib import Path

from takedown.signals.pdq import DIHEDRAL_TRANSFORMS

from .conftest import encode, run_takedown, synthetic_rgb

HEX64 = re.compile(r"[0-9a-f]{64}")


def test_folder_with_a_bad_file_reports_it_and_continues(tmp_path: Path, shared_data: Path) -> None:
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.png").write_bytes(encode(synthetic_rgb(1), "PNG"))
    (folder / "sub" / "b.jpg").write_bytes(encode(synthetic_rgb(2), "JPEG"))
    (folder / "sub" / "notes.jpg").write_text("not a picture")
    (folder / "clip.mov").write_bytes((shared_data / "videos" / "v2s.mov").read_bytes())
    proc = run_takedown("hash", "--json", "--jobs", "2", str(folder))
    assert proc.returncode == 1, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    by_name = {Path(str(line["path"])).name: line for line in lines}
    assert sorted(by_name) == ["a.png", "b.jpg", "clip.mov", "notes.jpg"]
    assert by_name["notes.jpg"]["error"]["code"] == "unsupported_media"
    image = by_name["a.png"]
    assert image["media"] == "image"
    pdq = [s for s in image["signals"] if s["type"] == "pdq"]
    assert pdq and HEX64.fullmatch(pdq[0]["value"])
    assert 0 <= pdq[0]["quality"] <= 100 and pdq[0]["variant"] == "original"
    types = {s["type"] for s in image["signals"]}
    assert types == {"pdq", "md5", "sha256"}
    video = by_name["clip.mov"]
    assert video["media"] == "video"
    vpdq = next(s for s in video["signals"] if s["type"] == "vpdq")
    assert len(vpdq["frames"]) >= 3
    assert set(vpdq["frames"][0]) == {"value", "quality", "timestamp"}
    assert "1 failed" in proc.stderr


def test_parallel_output_equals_serial(photo_paths: list[Path], tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    for path in photo_paths[:12]:
        (folder / path.name).write_bytes(path.read_bytes())
    serial = run_takedown("hash", "--json", "--jobs", "1", str(folder))
    parallel = run_takedown("hash", "--json", "--jobs", "2", str(folder))
    assert serial.returncode == parallel.returncode == 0
    assert serial.stdout == parallel.stdout
    assert len(serial.stdout.splitlines()) == 12


def test_missing_path_is_a_usage_error(tmp_path: Path) -> None:
    proc = run_takedown("hash", str(tmp_path / "nope"))
    assert proc.returncode == 2
    assert "no such file or folder" in proc.stderr
    assert proc.stdout == ""


def test_human_output_and_dihedral(tmp_path: Path) -> None:
    path = tmp_path / "x.png"
    path.write_bytes(encode(synthetic_rgb(4), "PNG"))
    human = run_takedown("hash", str(path))
    assert human.returncode == 0
    assert "pdq:" in human.stdout and "md5:" in human.stdout
    proc = run_takedown("hash", "--json", "--dihedral", str(path))
    signal = next(s for s in json.loads(proc.stdout)["signals"] if s["type"] == "pdq")
    assert set(signal["dihedral"]) == set(DIHEDRAL_TRANSFORMS)
    assert signal["dihedral"]["original"] == signal["value"]


def test_native_video_hashing_option(shared_data: Path) -> None:
    proc = run_takedown("hash", "--json", "--fps", "0", str(shared_data / "videos" / "v1.m4v"))
    assert proc.returncode == 0
    vpdq = next(s for s in json.loads(proc.stdout)["signals"] if s["type"] == "vpdq")
    assert len(vpdq["frames"]) == 120  # every frame
