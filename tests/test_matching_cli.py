"""``takedown bank from-media`` and ``takedown match`` on the shared media, as scripts use them."""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image, ImageOps

from takedown.matching.banks import read_bank
from takedown.matching.matcher import Matcher
from takedown.signals import FrameHash, Signal, VideoSignal

from .conftest import run_takedown


def _save(image: Image.Image, path: Path, quality: int = 80) -> Path:
    image.convert("RGB").save(path, format="JPEG", quality=quality)
    return path


def test_bank_from_a_subset_finds_every_transformed_copy(
    photo_paths: list[Path], tmp_path: Path
) -> None:
    banked = photo_paths[::30]
    others = photo_paths[1::30]
    bank_dir = tmp_path / "bank-media"
    bank_dir.mkdir()
    for path in banked:
        (bank_dir / path.name).write_bytes(path.read_bytes())
    bank_file = tmp_path / "confirmed.csv"
    built = run_takedown(
        "bank", "from-media", str(bank_dir), "--out", str(bank_file), "--label", "x"
    )
    assert built.returncode == 0, built.stderr
    queries = tmp_path / "queries"
    queries.mkdir()
    expected: dict[str, str] = {}
    for path in banked:
        photo = Image.open(path)
        w, h = photo.size
        copies = {
            "mirror": ImageOps.mirror(photo),
            "rotate90": photo.transpose(Image.Transpose.ROTATE_90),
            "framed": ImageOps.expand(photo, border=w // 10, fill="black"),
            "cropped": photo.crop((int(w * 0.05), int(h * 0.05), w, h)),
            "small": photo.resize((w // 2, h // 2)),
        }
        for name, copy in copies.items():
            target = _save(copy, queries / f"{path.stem}-{name}.jpg")
            expected[target.name] = path.name
    for path in others:
        _save(Image.open(path), queries / f"unrelated-{path.name}")
    proc = run_takedown("match", str(queries), "--bank", str(bank_file), "--json", "--jobs", "2")
    assert proc.returncode == 0, proc.stderr
    results = {
        Path(r["path"]).name: r["matches"] for r in map(json.loads, proc.stdout.splitlines())
    }
    assert len(results) == len(expected) + len(others)
    for name, source in expected.items():
        assert results[name], f"{name} found nothing"
        assert results[name][0]["external_id"] == source
        assert results[name][0]["bank"] == "confirmed"
        assert set(results[name][0]) >= {"label", "signal_type", "distance", "transform"}
    for name, matches in results.items():
        if name.startswith("unrelated-"):
            assert matches == [], name
    mirror = next(v for k, v in results.items() if k.endswith("-mirror.jpg"))
    assert mirror[0]["transform"] == "mirror"


def test_match_reports_errors_and_bad_banks(tmp_path: Path) -> None:
    bank = tmp_path / "b.csv"
    bank.write_text("signal_type,value\npdq,nothex\n")
    junk = tmp_path / "junk.jpg"
    junk.write_text("text")
    proc = run_takedown("match", str(junk), "--bank", str(bank))
    assert proc.returncode == 2
    assert "line 2" in proc.stderr and "--skip-bad" in proc.stderr
    bank.write_text("signal_type,value\npdq," + "a" * 64 + "\n")
    proc = run_takedown("match", str(junk), "--bank", str(bank), "--json")
    assert proc.returncode == 1
    assert json.loads(proc.stdout)["error"]["code"] == "unsupported_media"


def test_exact_and_video_matching(shared_data: Path, tmp_path: Path) -> None:
    video = shared_data / "videos" / "v2.m4v"
    bank_file = tmp_path / "videos.csv"
    assert run_takedown("bank", "from-media", str(video), "--out", str(bank_file)).returncode == 0
    bank = read_bank(bank_file)
    assert {e.signal_type for e in bank.entries} == {"vpdq", "vpdq_normalised", "md5", "sha256"}
    matcher = Matcher()
    matcher.add_bank(bank)
    proc = run_takedown("hash", "--json", str(video))
    record = json.loads(proc.stdout)
    vpdq = next(s for s in record["signals"] if s["type"] == "vpdq")
    frames = tuple(FrameHash(f["value"], f["quality"], f["timestamp"]) for f in vpdq["frames"])
    md5 = next(s for s in record["signals"] if s["type"] == "md5")
    found = matcher.match([VideoSignal("vpdq", frames), Signal("md5", md5["value"])])
    assert {m.signal_type for m in found} == {"vpdq", "md5"}
    video_match = next(m for m in found if m.signal_type == "vpdq")
    assert video_match.query_share == 1.0 and video_match.target_share == 1.0
    # frames of nothing like it do not make a match
    other = tuple(FrameHash("0" * 64, 100, 0.0) for _ in frames)
    assert not [m for m in matcher.match([VideoSignal("vpdq", other)]) if m.signal_type == "vpdq"]


def test_scan_is_parallel_resumable_and_drops_a_cut_off_line(
    photo_paths: list[Path], tmp_path: Path
) -> None:
    folder = tmp_path / "tree"
    (folder / "a" / "b").mkdir(parents=True)
    for i, path in enumerate(photo_paths[:24]):
        target = folder / ("a/b" if i % 3 == 0 else "a") / path.name
        target.write_bytes(path.read_bytes())
    bank_file = tmp_path / "bank.csv"
    assert (
        run_takedown("bank", "from-media", str(photo_paths[0]), "--out", str(bank_file)).returncode
        == 0
    )
    out = tmp_path / "results.jsonl"
    first = run_takedown(
        "scan", str(folder), "--bank", str(bank_file), "--out", str(out), "-j", "2"
    )
    assert first.returncode == 0, first.stderr
    lines = out.read_text().splitlines()
    assert len(lines) == 24
    assert "scanned" in first.stderr and "24" in first.stderr
    matched = [json.loads(line) for line in lines if json.loads(line)["matches"]]
    assert [Path(r["path"]).name for r in matched] == [photo_paths[0].name]
    # an interrupted run: 10 complete lines and half of the 11th
    out.write_text("\n".join(lines[:10]) + "\n" + lines[10][:25])
    second = run_takedown("scan", str(folder), "--bank", str(bank_file), "--out", str(out))
    assert second.returncode == 0, second.stderr
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(r["path"] for r in records) == sorted(json.loads(x)["path"] for x in lines)
    assert len(records) == 24
