"""Shared fixtures: the project's real test media in ../shared/data (never copied here)."""

from __future__ import annotations

import io
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
from PIL import Image

if TYPE_CHECKING:
    from tests.service_support import Service

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"the shared test media folder {SHARED_DATA} is absent (CI always has it)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def photo_paths(shared_data: Path) -> list[Path]:
    return sorted((shared_data / "photos").glob("*.jpg"))


def synthetic_rgb(seed: int = 0, size: tuple[int, int] = (320, 240)) -> np.ndarray:
    """A smooth random image with structure at several scales (hashes with high quality)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
    image = Image.fromarray(small).resize(size, Image.Resampling.BICUBIC)
    return np.asarray(image)


def encode(rgb: np.ndarray, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format=fmt, **params)
    return buffer.getvalue()


def run_takedown(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """The real CLI in a child process, as a script runs it."""
    return subprocess.run(
        [sys.executable, "-m", "takedown", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Every storage and API test runs on the embedded SQLite and on the real PostgreSQL."""
    from tests.service_support import database_url

    with database_url(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def service(db_url: str, tmp_path: Path) -> Iterator[Service]:
    from tests.service_support import make_settings, running_service

    with running_service(make_settings(tmp_path, db_url)) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's chromium driven by Playwright, one per test module (see browser_support)."""
    from tests.browser_support import CHROMIUM, CHROMIUM_ARGS, need_browser

    need_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()
