"""References carry the variants: what the service hashes of an item that becomes a reference.

Uploads are many and stay cheap (one PDQ of the original and its mirror); references are few
(media uploaded to a bank, items a case confirms), so the work is put there: an image reference
is hashed as ``takedown hash --dihedral --crops`` / ``bank from-media`` do, its 8 turns and
flips of the original, trimmed and every crop of the grid (``media.crops``), and at half its
size (:func:`half_size`). A copy posted turned 90 degrees, cut 5% unevenly or halved then
matches one stored variant at upload, and the copy search at confirmation finds it, close
enough to be removed, among what uploads already gave the content index. A video reference is
hashed at every frame, its contrast-normalised frames too (``vpdq_normalised``), so a dark
copy is found.

Cost: about 416 distinct PDQ hashes an image (51 boxes x 8 turns and the half size x 8, fewer
where turns coincide), about 43 KB in a worker's PDQ index at 104 bytes a hash, and 0.2-3.4 s
of hashing once per reference (measured on the shared photos), done before a decision's write
transaction (:meth:`takedown.service.copies.CopySearcher.prepare`).
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import replace

import numpy as np
from PIL import Image

from takedown.matching import banks as bank_files
from takedown.matching.transforms import stored
from takedown.media import MediaError, MediaKind, MediaLimits, detect
from takedown.media.video import REFERENCE_SAMPLING
from takedown.signals import AnySignal, HashOptions, MediaItem, Signal, Variant, hash_bytes
from takedown.signals.pdq import hash_rgb_dihedral
from takedown.signals.wire import stored_value


def reference_options(limits: MediaLimits) -> HashOptions:
    """How a reference is hashed: every turn and the crop grid; a video at every frame, each
    distinct frame once (``REFERENCE_SAMPLING``), so a 1 fps upload of it always has a
    reference frame within one frame interval, even where the shots change every few frames,
    and its contrast-normalised frames, so a dark or washed-out copy is found."""
    return HashOptions(
        limits=limits, dihedral=True, crops=True, video=REFERENCE_SAMPLING, normalise_video=True
    )


def reference_signals(data: bytes, limits: MediaLimits) -> list[AnySignal]:
    """Every signal of a reference's bytes, turned and cropped (an image also at half its
    size); raises ``MediaError``."""
    options = reference_options(limits)
    hashed = hash_bytes(data, options)
    signals = list(hashed.signals)
    if hashed.media is MediaKind.IMAGE:
        signals += half_size(MediaItem(data, detect(data, limits), replace(options, fast=False)))
    return signals


HALF_SIZE_MIN_SIDE = 64
"""An image whose half would be smaller than this on its short side gets no half-size variant
(a copy that small is rarely posted, and PDQ's quality falls)."""


def half_size(item: MediaItem) -> list[Signal]:
    """The picture at half its size (area-averaged), its 8 turns and flips: a copy posted at
    half size is hashed by the upload path from fewer pixels than the reference was, which
    leaves it 17-31 bits from the full-size hash for about 1 photo in 6 (a restriction for a
    person instead of a removal at confirmation); from the half-size hash it is within 8."""
    rgb = item.image.rgb
    height, width = rgb.shape[:2]
    if min(height, width) // 2 < HALF_SIZE_MIN_SIDE:
        return []
    half = Image.fromarray(rgb).resize((width // 2, height // 2), Image.Resampling.BOX)
    variants, quality = hash_rgb_dihedral(np.ascontiguousarray(np.asarray(half)))
    signal = Signal(
        "pdq", variants["original"], quality=quality, variant=Variant.ORIGINAL, dihedral=variants
    )
    return [signal] if signal.usable else []


def try_reference_signals(data: bytes | None, limits: MediaLimits) -> list[AnySignal]:
    """As :func:`reference_signals`; nothing for missing or undecodable bytes (the caller
    then has the signals taken at upload only)."""
    if data is None:
        return []
    try:
        return reference_signals(data, limits)
    except MediaError:
        return []


class ReferenceCache:
    """Reference signals by the SHA-256 of the bytes they were taken of, the most recent
    ``capacity`` kept. A reported item's bytes are captured as evidence as soon as it is
    reported (:func:`takedown.web.media.capture`), and hashing them as a reference takes up to
    a few seconds; done then (:meth:`warm`), a confirmation minutes later only matches, and
    removal of the copies follows the decision at once. A confirmation that comes while the
    capture is still hashing the same bytes waits for that hashing rather than doing it again
    beside it. Thread-safe: the capture runs in a background task, the decision in a request
    thread."""

    def __init__(self, limits: MediaLimits, capacity: int = 64) -> None:
        self.limits = limits
        self.capacity = capacity
        self._signals: OrderedDict[bytes, list[AnySignal]] = OrderedDict()
        self._hashing: dict[bytes, threading.Event] = {}
        self._lock = threading.Lock()

    def signals(self, data: bytes | None) -> list[AnySignal]:
        """As :func:`try_reference_signals`, from the cache when these bytes were hashed."""
        if data is None:
            return []
        key = hashlib.sha256(data).digest()
        while True:
            with self._lock:
                cached = self._signals.get(key)
                if cached is not None:
                    self._signals.move_to_end(key)
                    return cached
                underway = self._hashing.get(key)
                if underway is None:
                    underway = self._hashing[key] = threading.Event()
                    break
            underway.wait()  # then the cache has them (or that hashing failed: hash here)
        try:
            hashed = try_reference_signals(data, self.limits)
            with self._lock:
                self._signals[key] = hashed
                while len(self._signals) > self.capacity:
                    self._signals.popitem(last=False)
        finally:
            with self._lock:
                del self._hashing[key]
            underway.set()
        return hashed

    def warm(self, data: bytes) -> None:
        """Hash ``data`` as a reference now, for a later :meth:`signals`."""
        self.signals(data)

    def __len__(self) -> int:
        with self._lock:
            return len(self._signals)


def reference_entries(
    signals: Iterable[AnySignal], label: str, source: str, external_id: str
) -> list[bank_files.BankEntry]:
    """Bank entries for a reference: one per distinct usable hash, each naming the turn and
    crop it was taken of (a PDQ signal's dihedral variants become entries of their own). The
    item's own hashes come first, its variants after (a listing's first page shows the item)."""
    entries: list[bank_files.BankEntry] = []
    seen: set[tuple[str, str]] = set()
    for signal in signals:
        for value, transform in _variants(signal):
            if (signal.type, value) in seen:
                continue  # a symmetric image's turns coincide: one entry matches them all
            seen.add((signal.type, value))
            entries.append(
                bank_files.BankEntry(
                    signal.type, value, label, source, external_id, transform=transform
                )
            )
    return sorted(entries, key=lambda entry: bool(entry.transform))


def _variants(signal: AnySignal) -> Sequence[tuple[str, str]]:
    value = stored_value(signal)
    if value is None:
        return []
    if not isinstance(signal, Signal) or not signal.dihedral:
        return [(value, "")]
    cropped = signal.variant is Variant.CROPPED
    return [(hashed, stored(name, cropped)) for name, hashed in signal.dihedral.items()]
