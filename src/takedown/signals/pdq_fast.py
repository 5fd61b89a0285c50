"""PDQ as two small matrix products: the reference's arithmetic, in a fraction of its time.

The reference (``pdqhash``, ThreatExchange's C++) blurs the whole luminance image with two box
filters along each axis (the Jarosz filter), then keeps a 64x64 grid of samples of the blurred
image, takes its 16x16 low-frequency DCT and thresholds at the median. Every step up to the
samples is linear and separable, so the 64x64 grid is ``R @ luma @ C.T`` with ``R`` (64 x
height) and ``C`` (64 x width) the filters already composed with the sampling. Each row of
those holds only a band of a few dozen non-zero weights, so the grid costs about two passes
over the pixels instead of the reference's four full-size filter passes and float buffers, which
fall out of the CPU caches past about 512x512 (measured here: a 1155x866 photo 46 ms through
``pdqhash``, 2.5 ms here; the same hash bits on 106 shared photos).

The mirror image's hash comes almost free: flipping the image left to right is reversing the
columns of ``C``, so the expensive reduction of the rows is shared (0.4 ms for the mirror).

The boxes match the reference's ``box1DFloat`` exactly, edge handling included (a window of
``w`` samples, ``(w + 2) // 2 - 1`` after the centre and the rest before it, averaged over the
samples that exist near the edges); so do the sampling positions (``decimateFloat``), the
quality metric and the median (the 128th smallest of the 256 coefficients). Only the order of
floating-point additions differs, which can tip a coefficient lying exactly on the median: on
353 shared and reference photos (and their mirror images) every bit and quality agreed with
``pdqhash``; images under 64 pixels a side, whose sample grid repeats pixels so that many
coefficients tie, may differ by a few bits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt

GRID = 64
"""Samples per axis of the blurred image (the reference's 64x64 buffer)."""

MIN_SIDE = 5
"""The reference gives images narrower than this an all-zero hash of quality 0."""
_EMPTY = "0" * 64

_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
_DCT = np.array(
    [
        [
            math.sqrt(2 / GRID) * math.cos(math.pi / 2 / GRID * (i + 1) * (2 * j + 1))
            for j in range(GRID)
        ]
        for i in range(16)
    ],
    dtype=np.float32,
)
"""The reference's 16x64 DCT matrix: rows 1..16 of the DCT-II (the DC row is left out)."""


@dataclass(frozen=True)
class _Axis:
    """One axis's filter-then-sample operator, as a band of weights per output sample."""

    length: int
    starts: tuple[int, ...]
    bands: tuple[npt.NDArray[np.float32], ...]


@lru_cache(maxsize=256)
def _axis(length: int) -> _Axis:
    """Two passes of the reference's box filter along an axis of ``length`` samples, then its
    decimation to :data:`GRID` samples, composed into one band of weights per sample."""
    window = (length + 2 * GRID - 1) // (2 * GRID)
    half = (window + 2) // 2
    index = np.arange(length)
    lo = np.maximum(index - (window - half), 0)
    hi = np.minimum(index + (half - 1), length - 1)
    inverse = 1.0 / (hi - lo + 1)
    starts: list[int] = []
    bands: list[npt.NDArray[np.float32]] = []
    for k in range(GRID):
        pick = int((k + 0.5) * length / GRID)
        first = np.arange(lo[pick], hi[pick] + 1)  # the first pass's window around the sample
        start, end = int(lo[first[0]]), int(hi[first[-1]]) + 1
        steps = np.zeros(end - start + 1)
        np.add.at(steps, lo[first] - start, inverse[first])
        np.add.at(steps, hi[first] + 1 - start, -inverse[first])
        starts.append(start)
        bands.append((np.cumsum(steps)[:-1] * inverse[pick]).astype(np.float32))
    return _Axis(length, tuple(starts), tuple(bands))


def _reduce_rows(rgb: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
    """The luminance image filtered and sampled along its height: 64 x width."""
    height, width = rgb.shape[:2]
    axis = _axis(height)
    flat = rgb.reshape(height, width * 3)
    out = np.empty((GRID, width * 3), dtype=np.float32)
    for k in range(GRID):
        start, band = axis.starts[k], axis.bands[k]
        out[k] = band @ flat[start : start + band.size].astype(np.float32)
    luma: npt.NDArray[np.float32] = out.reshape(GRID, width, 3) @ _LUMA
    return luma


def _reduce_columns(rows: npt.NDArray[np.float32], mirror: bool) -> npt.NDArray[np.float32]:
    """The 64x64 grid from :func:`_reduce_rows`' output; ``mirror`` samples the image as if it
    were flipped left to right."""
    width = rows.shape[1]
    axis = _axis(width)
    grid = np.empty((GRID, GRID), dtype=np.float32)
    for k in range(GRID):
        start, band = axis.starts[k], axis.bands[k]
        if mirror:
            end = width - start
            grid[:, k] = rows[:, end - band.size : end] @ band[::-1]
        else:
            grid[:, k] = rows[:, start : start + band.size] @ band
    return grid


def _quality(grid: npt.NDArray[np.float32]) -> int:
    """The reference's gradient-sum quality: 0 (flat) to 100."""
    down = np.trunc((grid[:-1, :] - grid[1:, :]) * 100 / 255)
    across = np.trunc((grid[:, :-1] - grid[:, 1:]) * 100 / 255)
    total = int(np.abs(down).sum() + np.abs(across).sum())
    return min(100, total // 90)


def _hash_hex(grid: npt.NDArray[np.float32]) -> str:
    coefficients = (_DCT @ grid @ _DCT.T).ravel()
    median = np.partition(coefficients, 127)[127]
    bits = coefficients > median
    # the reference's serialisation: coefficient 255 is the first bit of the hex string
    return np.packbits(bits[::-1]).tobytes().hex()


def hash_rgb(rgb: npt.NDArray[np.uint8]) -> tuple[str, int]:
    """PDQ hash (64 hex digits) and quality of an RGB image (height x width x 3, uint8)."""
    if min(rgb.shape[:2]) < MIN_SIDE:
        return _EMPTY, 0
    grid = _reduce_columns(_reduce_rows(rgb), mirror=False)
    return _hash_hex(grid), _quality(grid)


def hash_rgb_and_mirror(rgb: npt.NDArray[np.uint8]) -> tuple[str, str, int]:
    """The image's PDQ hash, that of its left-right mirror image, and the quality (the same for
    both), sharing the reduction of the rows."""
    if min(rgb.shape[:2]) < MIN_SIDE:
        return _EMPTY, _EMPTY, 0
    rows = _reduce_rows(rgb)
    grid = _reduce_columns(rows, mirror=False)
    mirrored = _reduce_columns(rows, mirror=True)
    return _hash_hex(grid), _hash_hex(mirrored), _quality(grid)
