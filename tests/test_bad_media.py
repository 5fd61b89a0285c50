"""Hostile and broken media get a stable error code within bounded time and memory.

Each case runs the real CLI in a child process capped at 1.5 GiB of address space and a wall
clock of 60 s: a decoder that tried to allocate a 30000x30000 canvas, or to decode ten hours
of video, would die or time out there instead of passing.
"""

from __future__ import annotations

import json
import resource
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from takedown.media import FrameSampling, MediaLimits
from takedown.signals import HashOptions, hash_bytes

from .conftest import encode, synthetic_rgb
from .video_factory import make_long_header_video, make_video

MEMORY_CAP = int(1.5 * 1024**3)
WALL_CAP_S = 60


def _cap_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def run_cli(path: Path, *extra: str) -> tuple[int, dict[str, object]]:
    proc = subprocess.run(
        [sys.executable, "-m", "takedown", "hash", "--json", *extra, str(path)],
        capture_output=True,
        text=True,
        timeout=WALL_CAP_S,
        preexec_fn=_cap_memory,
        check=False,
    )
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1, (proc.stdout, proc.stderr)
    return proc.returncode, json.loads(lines[0])


def png_declaring(width: int, height: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1024)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def corrupt_mp4(tmp_path: Path) -> bytes:
    good = make_video(tmp_path / "good.mp4", seconds=2)
    # keep the ftyp box so it still sniffs as MP4, then garble everything after it
    ftyp_size = int.from_bytes(good[:4], "big")
    garbage = bytes((i * 197 + 13) % 256 for i in range(len(good) - ftyp_size))
    return good[:ftyp_size] + garbage


CASES = {
    "zero_bytes": (lambda tmp: b"", "empty_media"),
    "text_named_jpg": (lambda tmp: b"not an image, just text\n" * 20, "unsupported_media"),
    "truncated_jpeg": (
        lambda tmp: encode(synthetic_rgb(1, (640, 480)), "JPEG", quality=90)[:4000],
        "corrupt_media",
    ),
    "png_30000x30000": (lambda tmp: png_declaring(30000, 30000), "media_too_large"),
    "corrupt_mp4": (corrupt_mp4, "corrupt_media"),
    "ten_hour_video_header": (
        lambda tmp: make_long_header_video(tmp / "long.mp4", hours=10),
        "media_too_long",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_media_gets_its_code_within_bounds(tmp_path: Path, case: str) -> None:
    make, expected_code = CASES[case]
    suffix = ".mp4" if "mp4" in case or "video" in case else ".jpg"
    path = tmp_path / f"{case}{suffix}"
    path.write_bytes(make(tmp_path))
    status, outcome = run_cli(path)
    assert status == 1
    assert outcome["path"] == str(path)
    error = outcome["error"]
    assert isinstance(error, dict)
    assert error["code"] == expected_code, error
    assert error["message"]


def test_decode_timeout(shared_data: Path) -> None:
    data = (shared_data / "videos" / "bikes.mp4").read_bytes()
    options = HashOptions(limits=MediaLimits(max_decode_s=0.001), video=FrameSampling(fps=None))
    from takedown.media import DecodeTimeout

    with pytest.raises(DecodeTimeout) as info:
        hash_bytes(data, options)
    assert info.value.code == "decode_timeout"


def test_frame_limit_stops_a_video_that_declares_nothing(tmp_path: Path) -> None:
    """Matroska written by a stream has no duration in its header; the decode loop still stops."""
    data = make_video(tmp_path / "v.mkv", container="matroska", seconds=3)
    from takedown.media import MediaTooLong

    with pytest.raises(MediaTooLong):
        hash_bytes(data, HashOptions(limits=MediaLimits(max_frames=5)))


def test_byte_limit() -> None:
    from takedown.media import MediaTooLarge

    with pytest.raises(MediaTooLarge):
        hash_bytes(encode(synthetic_rgb(), "PNG"), HashOptions(limits=MediaLimits(max_bytes=100)))


def test_declared_duration_limit_is_configurable(tmp_path: Path) -> None:
    data = make_video(tmp_path / "v.mp4", seconds=3)
    status, outcome = run_cli(tmp_path / "v.mp4", "--max-duration", "1")
    assert status == 1
    error = outcome["error"]
    assert isinstance(error, dict) and error["code"] == "media_too_long"
    assert hash_bytes(data).media.value == "video"  # the default limit accepts it
