"""Dark and low-contrast video (issue 14): a contrast-normalised vPDQ variant
(``vpdq_normalised``), hashed densely on every reference and on an upload only when the video is
weak, matched only against its own type.

Dark copies of every shared video with a usable fingerprint are found through it; no pair of
different shared videos matches through it (even with every upload frame normalised, which the
service never does), and no normalised video frame comes near a shared photo's normalised hash;
through the service, a dark copy posted before a confirmation is removed with the reported
video and one posted after is blocked.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from takedown.matching.bank_index import BankIndex
from takedown.matching.pdq_index import parse_hashes
from takedown.media import MediaLimits
from takedown.service.references import reference_signals
from takedown.signals import HashOptions, InvalidSignal, VideoSignal, hash_bytes
from takedown.signals.normalise import normalise_luminance
from takedown.signals.pdq import hash_rgb
from takedown.signals.strength import Strength, assess
from takedown.signals.vpdq import NORMALISED_TYPE, VPDQ, VPDQ_NORMALISED, compared_frames
from takedown.signals.wire import stored_value
from tests.service_support import Service, wait_for
from tests.video_factory import transform_video

SAME_FOOTAGE = ({"v2.m4v", "v2s.mov"}, {"carphone_pristine.mp4", "carphone_distorted.mp4"})
FLAT = "rgb.m4v"
"""Plain colour fields: no usable frame even in the original, so no dark copy is expected."""


def dark(rgb: np.ndarray) -> np.ndarray:
    """Brightness x0.25, then contrast halved around the frame's mean (the benchmark's copy)."""
    x = rgb.astype(np.float32) * 0.25
    mean = float(x.mean())
    return np.clip(mean + (x - mean) * 0.5, 0, 255).astype(np.uint8)


def _related(a: str, b: str) -> bool:
    return a == b or any({a, b} <= pair for pair in SAME_FOOTAGE)


def _normalised(signals: object) -> list[VideoSignal]:
    assert isinstance(signals, (list, tuple))
    return [s for s in signals if isinstance(s, VideoSignal) and s.type == NORMALISED_TYPE]


def _matches(query: list[VideoSignal], stored: list[VideoSignal]) -> bool:
    return any(VPDQ_NORMALISED.compare(q, s).matched for q in query for s in stored)


@pytest.fixture(scope="module")
def videos(shared_data: Path) -> list[Path]:
    return sorted((shared_data / "videos").iterdir())


@pytest.fixture(scope="module")
def references(videos: list[Path]) -> dict[str, list[VideoSignal]]:
    """Every shared video's dense normalised reference, as a bank entry or confirmation keeps."""
    return {v.name: _normalised(reference_signals(v.read_bytes(), MediaLimits())) for v in videos}


@pytest.fixture(scope="module")
def dark_copies(videos: list[Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    folder = tmp_path_factory.mktemp("dark")
    return {v.name: transform_video(v, folder / f"{v.stem}.mp4", dark) for v in videos}


def test_dark_copies_are_weak_uploads_found_through_the_normalised_variant(
    references: dict[str, list[VideoSignal]], dark_copies: dict[str, bytes]
) -> None:
    """Each dark copy's plain frames are (nearly) all below PDQ's quality floor: the upload is
    weak, says why, carries normalised frames, and they match its original's reference."""
    missed = []
    for name, data in dark_copies.items():
        if name == FLAT:
            continue
        signals = list(hash_bytes(data).signals)
        fingerprint = assess(signals)
        assert fingerprint.strength is Strength.WEAK, name
        assert "contrast-normalised" in fingerprint.reason
        if not _matches(_normalised(signals), references[name]):
            missed.append(name)
    assert missed == []


def test_an_ordinary_upload_costs_no_normalised_variant(videos: list[Path]) -> None:
    bright = next(v for v in videos if v.name == "bikes.mp4")
    signals = hash_bytes(bright.read_bytes()).signals
    assert assess(signals).strength is Strength.STRONG
    assert _normalised(list(signals)) == []


def test_no_two_different_videos_match_through_the_normalised_variant(
    videos: list[Path],
    references: dict[str, list[VideoSignal]],
    dark_copies: dict[str, bytes],
) -> None:
    """The worst case: every upload frame normalised (the service normalises only weak
    uploads' dark frames), and every dark copy, against every other video's dense reference."""
    everything = HashOptions(normalise_video=True)
    uploads = {
        v.name: _normalised(list(hash_bytes(v.read_bytes(), everything).signals)) for v in videos
    }
    assert all(uploads[v.name] for v in videos)
    darks = {name: _normalised(list(hash_bytes(d).signals)) for name, d in dark_copies.items()}
    false = [
        (a, b, kind)
        for a in references
        for b in references
        if not _related(a, b)
        for kind, query in (("upload", uploads[b]), ("dark copy", darks[b]))
        if _matches(query, references[a])
    ]
    assert false == []


def test_no_normalised_video_frame_is_near_a_shared_photo(
    references: dict[str, list[VideoSignal]], photo_paths: list[Path]
) -> None:
    """Frame by frame, below the video match: no normalised frame of a shared video is within
    the threshold of any shared photo's normalised hash."""
    frames = [
        v for signals in references.values() for s in signals for v in compared_frames(s.frames)
    ]
    photos = []
    for path in photo_paths:
        image = Image.open(path).convert("RGB")
        image.thumbnail((256, 256))
        value, quality = hash_rgb(normalise_luminance(np.asarray(image)))
        if quality >= 50:
            photos.append(value)
    a, b = parse_hashes(frames), parse_hashes(photos)
    nearest = min(
        int(np.bitwise_count(np.bitwise_xor(a[i : i + 256, None], b[None])).sum(axis=2).min())
        for i in range(0, len(a), 256)
    )
    assert nearest > 31


def test_normalised_frames_are_compared_only_with_their_own_type(
    references: dict[str, list[VideoSignal]],
) -> None:
    signal = references["v1.m4v"][0]
    value = stored_value(signal)
    assert value is not None
    plain = VideoSignal("vpdq", signal.frames)
    with pytest.raises(InvalidSignal):
        VPDQ.compare(plain, signal)
    index = BankIndex()
    index.add(1, "vpdq", value)
    assert index.match([signal]) == []
    index.add(2, NORMALISED_TYPE, value)
    assert [(h.entry_id, h.signal_type) for h in index.match([signal])] == [(2, NORMALISED_TYPE)]
    assert index.remove(2) and index.match([signal]) == []


def _post_video(service: Service, path: str, data: bytes, **form: str) -> dict[str, object]:
    answer = service.post(path, data=form, files={"file": ("v.mp4", data, "video/mp4")})
    assert answer.status_code in (200, 201), answer.text
    body: dict[str, object] = answer.json()
    return body


def test_a_confirmed_video_removes_and_blocks_its_dark_copies(
    service: Service, videos: list[Path], dark_copies: dict[str, bytes]
) -> None:
    """Through the service: a dark copy is posted, then the original is reported and a
    specialist confirms (its evidence bytes become the dense reference): the dark copy is
    removed as a copy, and the dark copy posted again is blocked; a bright unrelated video is
    left alone."""
    original = next(v for v in videos if v.name == "v1.m4v").read_bytes()
    _post_video(service, "/v1/content", original, content_id="v1")
    first = _post_video(service, "/v1/content", dark_copies["v1.m4v"], content_id="v1-dark")
    assert first["fingerprint"]["strength"] == "weak"  # type: ignore[index]
    _post_video(service, "/v1/content", dark_copies["bikes.mp4"], content_id="bikes-dark")
    state = service.client.app.state.takedown  # type: ignore[attr-defined]
    wait_for(lambda: state.index.sizes()["_content"] >= 3, 10, "the content index")
    state.evidence.put("v1", original)
    case = service.confirm_report("v1")
    copies = {c["content_id"]: c["status"] for c in case["content"] if c["role"] == "copy"}
    assert copies == {"v1-dark": "removed"}

    def blocked() -> bool:
        answer = service.post(
            "/v1/lookup", files={"file": ("v.mp4", dark_copies["v1.m4v"], "video/mp4")}
        )
        return bool(answer.json()["verdict"] == "block")

    wait_for(blocked, 10, "the confirmed bank")
    again = _post_video(service, "/v1/content", dark_copies["v1.m4v"], content_id="v1-dark-2")
    assert again["verdict"] == "block"
    assert NORMALISED_TYPE in {m["signal_type"] for m in again["matches"]}  # type: ignore[union-attr]
