"""Find uniform borders: letterboxing, padding, frames and screenshot margins.

A copy re-posted with a black frame or inside a phone screenshot has a completely different PDQ
hash, because PDQ summarises the whole canvas. Cutting the uniform margins away first gives the
copy back its original hash. The caller keeps both hashes, so a false trim (a clear sky, a
studio backdrop) costs an extra hash, never a lost match.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from takedown.media.image import RGBArray

TOLERANCE = 24
"""Largest per-channel difference from the border colour still counted as border (JPEG noise)."""

ROW_SHARE = 0.92
"""A row or column is border when at least this share of its pixels has the border colour."""

MIN_TRIM_SHARE = 0.02
"""Margins narrower than this share of a side change PDQ too little to be worth a second hash."""

MIN_KEEP_SHARE = 0.25
"""The content left after trimming must keep at least this share of each side."""

MAX_GAP_SHARE = 0.08
"""A band of other lines this thin (a share of the side) inside a margin is part of the margin:
the clock in a screenshot's status bar, a caption's text, a watermark in a letterbox bar."""

MAX_PASSES = 3
"""Nested margins (a status bar inside a white padding) are peeled one per pass."""


@dataclass(frozen=True)
class Box:
    left: int
    top: int
    right: int
    bottom: int

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def height(self) -> int:
        return self.bottom - self.top


SAMPLES_PER_LINE = 256
"""Pixels examined along each line; a margin is uniform, so a sample of it is enough."""


def _near(
    band: RGBArray, low: npt.NDArray[np.uint8], high: npt.NDArray[np.uint8]
) -> npt.NDArray[np.bool_]:
    """Pixels of ``band`` whose every channel lies within ``[low, high]``."""
    close: npt.NDArray[np.bool_] = (band[..., 0] >= low[0]) & (band[..., 0] <= high[0])
    for channel in (1, 2):
        close &= (band[..., channel] >= low[channel]) & (band[..., channel] <= high[channel])
    return close


def _border_lines(band: RGBArray, edge: RGBArray, axis: int, max_gap: int) -> int:
    """How many lines of ``band``, counted from ``edge``'s side, belong to the margin.

    ``band`` is (rows, columns, channel); ``axis`` is the axis along which a line runs (1 for
    rows, 0 for columns), so the other axis counts lines. Lines of ``edge``'s colour are margin
    (every channel within :data:`TOLERANCE` of the edge's median colour), and so is a run of at
    most ``max_gap`` other lines when margin lines follow it.
    """
    background = np.median(edge, axis=0)
    # |pixel - background| <= TOLERANCE on whole numbers, as bounds on the bytes themselves
    low = np.clip(np.ceil(background - TOLERANCE), 0, 255).astype(np.uint8)
    high = np.clip(np.floor(background + TOLERANCE), 0, 255).astype(np.uint8)
    if not band.size or _near(edge, low, high).mean() < ROW_SHARE:
        return 0  # the edge itself is no margin (most photos): nothing more to look at
    is_border = _near(band, low, high).mean(axis=axis) >= ROW_SHARE
    changes = np.flatnonzero(np.diff(is_border.astype(np.int8))) + 1
    bounds = [0, *changes.tolist(), len(is_border)]
    runs = list(itertools.pairwise(bounds))  # alternating runs: margin, other, margin, ...
    depth = runs[0][1]
    for index in range(1, len(runs) - 1, 2):
        gap_start, gap_end = runs[index]
        margin_start, margin_end = runs[index + 1]
        if gap_end - gap_start > max_gap or margin_end - margin_start < gap_end - gap_start:
            break
        depth = margin_end
    return depth


def _margins(pixels: RGBArray, box: Box) -> tuple[int, int, int, int] | None:
    """How deep the uniform margin goes at the top, bottom, left and right of ``box``; None
    when the whole box is one colour."""
    region = pixels[box.top : box.bottom, box.left : box.right]
    height, width = region.shape[:2]
    deep_y = max(1, int(height * (1 - MIN_KEEP_SHARE)))
    deep_x = max(1, int(width * (1 - MIN_KEEP_SHARE)))
    step_x = max(1, width // SAMPLES_PER_LINE)
    step_y = max(1, height // SAMPLES_PER_LINE)
    rows = region[:, ::step_x]
    columns = region[::step_y]
    gap_y, gap_x = int(height * MAX_GAP_SHARE), int(width * MAX_GAP_SHARE)
    top = _border_lines(rows[:deep_y], rows[0], axis=1, max_gap=gap_y)
    bottom = _border_lines(rows[::-1][:deep_y], rows[-1], axis=1, max_gap=gap_y)
    left = _border_lines(columns[:, :deep_x], columns[:, 0], axis=0, max_gap=gap_x)
    right = _border_lines(columns[:, ::-1][:, :deep_x], columns[:, -1], axis=0, max_gap=gap_x)
    if top + bottom >= height or left + right >= width:
        return None
    return top, bottom, left, right


def _trim_once(pixels: RGBArray, box: Box) -> Box:
    found = _margins(pixels, box)
    if found is None:
        return box  # all one colour: nothing to keep, so nothing to trim
    top, bottom, left, right = found
    return Box(box.left + left, box.top + top, box.right - right, box.bottom - bottom)


def _judged_between(pixels: RGBArray, box: Box, trimmed: Box) -> Box:
    """``trimmed`` with each axis judged again inside the other axis's margins. Bars on the
    left and right make the picture's own dark top or bottom rows look like margin across the
    whole canvas (a row that is half bar, half near-black picture), so the copy is cut deeper
    than the picture alone is and its trimmed hash moves (20 bits for one letterboxed photo of
    30 in the service benchmark); judged between the bars, the rows are the picture's own and
    are cut as the original's are. Kept beside the pass's own box, not instead: that one, bars
    only, is what matches a bank's untrimmed original when the picture has margins of its own."""
    top, left = trimmed.top - box.top, trimmed.left - box.left
    bottom, right = box.bottom - trimmed.bottom, box.right - trimmed.right
    if left or right:
        between = _margins(pixels, Box(trimmed.left, box.top, trimmed.right, box.bottom))
        if between is not None:
            top, bottom = between[0], between[1]
    if top or bottom:
        between = _margins(pixels, Box(box.left, box.top + top, box.right, box.bottom - bottom))
        if between is not None:
            left, right = between[2], between[3]
    return Box(box.left + left, box.top + top, box.right - right, box.bottom - bottom)


def find_content(rgb: RGBArray) -> list[Box]:
    """The boxes inside the uniform margins, outermost first; empty when there are none.

    Each pass peels one layer of margin and gives one box, and a second one where the layer
    judged axis by axis differs (``_judged_between``). All are returned because a layer can be
    content: a snowfield or a studio backdrop at an edge looks like a margin, and a framed copy
    of such a photo must still be found through the box that removed only the frame.
    """
    height, width = rgb.shape[:2]
    if height < 16 or width < 16:
        return []
    pixels = rgb
    boxes: list[Box] = []
    box = Box(0, 0, width, height)
    for _ in range(MAX_PASSES):
        trimmed = _trim_once(pixels, box)
        if trimmed == box:
            break
        judged = _judged_between(pixels, box, trimmed)
        box = trimmed
        if not _keeps_enough(box, width, height):
            break
        for found in (box, judged) if judged != box else (box,):
            if _keeps_enough(found, width, height) and _trims_enough(found, width, height):
                boxes.append(found)
    return boxes


def _keeps_enough(box: Box, width: int, height: int) -> bool:
    return box.width >= width * MIN_KEEP_SHARE and box.height >= height * MIN_KEEP_SHARE


def _trims_enough(box: Box, width: int, height: int) -> bool:
    return max((width - box.width) / width, (height - box.height) / height) >= MIN_TRIM_SHARE


def crop(rgb: RGBArray, box: Box) -> RGBArray:
    return np.ascontiguousarray(rgb[box.top : box.bottom, box.left : box.right])
