"""The demo's own clip demonstrates what the README's walk-through promises: its frames carry
usable fingerprints, and the reposts the walk-through makes (re-encoded, resized, mirrored,
bordered) are found through the service. The earlier clip, a smooth colour field with PDQ
quality 27-30, matched nothing but itself: this test fails on it."""

from __future__ import annotations

from pathlib import Path

from examples.demo_platform.demo import sample_media

from takedown.signals.base import VideoSignal
from takedown.signals.compute import hash_bytes
from tests.service_support import Service, wait_for
from tests.video_factory import black_border, mirror, transform_video


def _clip(tmp_path: Path) -> Path:
    clip = next(p for p in sample_media(tmp_path / "samples") if p.suffix == ".mp4")
    return clip


def test_every_sampled_frame_of_the_demo_clip_is_usable(tmp_path: Path) -> None:
    signals = hash_bytes(_clip(tmp_path).read_bytes()).signals
    frames = [f for s in signals if isinstance(s, VideoSignal) for f in s.frames]
    assert len(frames) >= 5
    assert min(f.quality for f in frames) >= 50, [f.quality for f in frames]


def test_the_demo_clips_reposts_are_found_through_the_service(
    service: Service, tmp_path: Path
) -> None:
    clip = _clip(tmp_path)
    reposts = {
        "re-encoded": transform_video(clip, tmp_path / "a.mp4", crf=30),
        "half size": transform_video(clip, tmp_path / "b.mp4", scale=0.5, crf=32),
        "mirrored": transform_video(clip, tmp_path / "c.mp4", mirror),
        "bordered": transform_video(clip, tmp_path / "d.mp4", black_border),
        "mirrored and bordered": transform_video(
            clip, tmp_path / "e.mp4", lambda rgb: black_border(mirror(rgb)), scale=0.75
        ),
    }
    assert service.post("/v1/banks", json={"name": "confirmed"}).status_code == 201
    added = service.post(
        "/v1/banks/confirmed/entries",
        data={"external_id": "sample-clip"},
        files={"file": ("sample-clip.mp4", clip.read_bytes(), "video/mp4")},
    )
    assert added.status_code in (200, 201), added.text

    def lookup(data: bytes) -> dict[str, object]:
        answer = service.post("/v1/lookup", files={"file": ("v.mp4", data, "video/mp4")})
        assert answer.status_code == 200, answer.text
        body: dict[str, object] = answer.json()
        return body

    wait_for(lambda: lookup(reposts["re-encoded"])["verdict"] == "block", 5, "the bank entries")
    for name, data in reposts.items():
        answer = service.post(
            "/v1/content",
            data={"content_id": f"repost-{name.replace(' ', '-')}"},
            files={"file": ("v.mp4", data, "video/mp4")},
        )
        assert answer.status_code == 201, answer.text
        body = answer.json()
        assert body["verdict"] == "block", (name, body)
        assert any(m["signal_type"] == "vpdq" for m in body["matches"]), (name, body)
        assert body["fingerprint"]["strength"] == "strong", (name, body)
