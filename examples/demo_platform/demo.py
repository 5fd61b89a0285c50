"""`takedown demo`: takedown and the reference platform on loopback, wired together (API key,
signed webhooks, signed media URLs), with staff accounts and sample media made here."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import uvicorn
from PIL import Image, ImageDraw
from sqlalchemy import select

from examples.demo_platform.app import PlatformConfig, create_platform
from takedown.actions import webhooks
from takedown.actions.addresses import Networks, check_new
from takedown.api.app import create_app
from takedown.auth.accounts import create_key, create_user
from takedown.auth.scopes import Role, Scope
from takedown.config import Settings
from takedown.store.db import Database
from takedown.store.migrate import upgrade
from takedown.store.models import User

PASSWORD = "demo-password-2026"  # noqa: S105 (a loopback demo; printed for the newcomer)
STAFF = {
    "reviewer@demo.example": Role.CHILD_SAFETY_SPECIALIST,
    "specialist@demo.example": Role.CHILD_SAFETY_SPECIALIST,
    "legal@demo.example": Role.LEGAL,
    "admin@demo.example": Role.ADMIN,
}


@dataclass
class Demo:
    takedown_url: str
    platform_url: str
    db: Database
    platform: Any
    takedown: Any
    samples: list[Path]


def _texture(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """A landscape-like colour texture: random fields at four scales, summed (detail at every
    scale, as real footage has, so that every frame's PDQ quality is well above 50)."""
    out = np.zeros((height, width, 3), np.float32)
    for cells, weight in ((4, 1.0), (12, 0.6), (40, 0.35), (120, 0.2)):
        grid = rng.integers(0, 256, (max(2, cells * height // width), cells, 3), dtype=np.uint8)
        layer = Image.fromarray(grid).resize((width, height), Image.Resampling.BICUBIC)
        out += weight * np.asarray(layer, np.float32)
    out -= out.min()
    out *= 255.0 / max(1.0, float(out.max()))
    return out.astype(np.uint8)


def write_sample_clip(path: Path, rng: np.random.Generator, seconds: int = 6) -> None:
    """Real-looking footage made on the spot, without sound: a camera panning and slowly
    zooming over a textured scene while an object moves across it. (The earlier clip was a
    smooth colour field whose frames had PDQ quality 27-30: nothing could match its copies.)"""
    scene = Image.fromarray(_texture(rng, 1200, 500))
    width, height, fps = 384, 216, 12
    with av.open(str(path), mode="w", format="mp4") as out:
        stream = out.add_stream("h264", rate=Fraction(fps))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        total = fps * seconds
        for i in range(total):
            t = i / total
            zoom = 1.0 + 0.15 * t
            left = int(t * (scene.width - 460))
            view = scene.crop((left, 100, left + int(460 / zoom), 100 + int(259 / zoom)))
            frame = view.resize((width, height), Image.Resampling.BILINEAR)
            x, y = int(40 + 280 * t), int(60 + 50 * np.sin(6 * t))
            ImageDraw.Draw(frame).ellipse((x, y, x + 50, y + 50), fill=(230, 200, 40))
            video_frame = av.VideoFrame.from_ndarray(np.asarray(frame), format="rgb24")
            for packet in stream.encode(video_frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def sample_media(folder: Path) -> list[Path]:
    """Benign samples made here: smooth colour fields with shapes, and a short clip of
    textured, moving footage (see ``write_sample_clip``)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(2026)
    paths = []
    for number in range(3):
        small = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
        picture = Image.fromarray(small).resize((640, 480), Image.Resampling.BICUBIC)
        path = folder / f"sample-{number + 1}.jpg"
        picture.save(path, "JPEG", quality=90)
        paths.append(path)
    clip = folder / "sample-clip.mp4"
    write_sample_clip(clip, rng)
    paths.append(clip)
    return paths


def _serve(app: Any, port: int) -> tuple[uvicorn.Server, threading.Thread]:
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError(f"a demo server did not start on port {port}")
        time.sleep(0.05)
    return server, thread


@contextmanager
def running_demo(settings: Settings, platform_port: int) -> Iterator[Demo]:
    """Both services up and wired; stopped on exit."""
    settings.home.mkdir(parents=True, exist_ok=True)
    upgrade(settings.db_url)
    db = Database(settings.db_url)
    takedown_url = f"http://127.0.0.1:{settings.port}"
    platform_url = f"http://127.0.0.1:{platform_port}"
    media_secret = settings.media_secret or secrets.token_urlsafe(24)
    settings = settings.model_copy(
        update={
            "media_url_template": f"{platform_url}/media/{{content_id}}",
            "media_secret": media_secret,
            "public_url": takedown_url,
        }
    )
    # the platform listens on loopback: the settings must allow it (webhook_allow_networks)
    hook_url = check_new(f"{platform_url}/takedown/webhook", Networks.from_settings(settings))
    with db.write() as session:
        for email, role in STAFF.items():
            if session.execute(select(User).where(User.email == email)).first() is None:
                create_user(session, email, role, PASSWORD, actor="demo")
        _, api_key = create_key(
            session,
            "pixshare",
            frozenset({Scope.CONTENT_WRITE, Scope.LOOKUP, Scope.ACTIONS_READ}),
            actor="demo",
        )
        _, webhook_secret = webhooks.create_webhook(session, hook_url, [], actor="demo")
    platform = create_platform(
        PlatformConfig(takedown_url, api_key, webhook_secret, media_secret, platform_url)
    )
    takedown = create_app(settings, db=db)
    servers = [_serve(takedown, settings.port), _serve(platform, platform_port)]
    try:
        yield Demo(
            takedown_url,
            platform_url,
            db,
            platform,
            takedown,
            sample_media(settings.home / "samples"),
        )
    finally:
        for server, thread in servers:
            server.should_exit = True
            thread.join(timeout=20)
        db.dispose()
