"""References carry the variants: what the service hashes of an item that becomes a reference.

Uploads are many and stay cheap (one PDQ of the original and its mirror); references are few
(media uploaded to a bank, items a case confirms), so the work is put there: an image reference
is hashed as ``takedown hash --dihedral --crops`` / ``bank from-media`` do, its 8 turns and
flips of the original, trimmed and every crop of the grid (``media.crops``). A copy posted
turned 90 degrees or cut 5% unevenly then matches one stored variant at upload, and the copy
search at confirmation finds it among what uploads already gave the content index.

Cost: about 408 distinct PDQ hashes an image (51 boxes x 8 turns, fewer where turns coincide),
about 42 KB in a worker's PDQ index at 104 bytes a hash, and 0.2-2 s of hashing once per
reference (measured on the shared photos).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from takedown.matching import banks as bank_files
from takedown.matching.transforms import stored
from takedown.media import MediaError, MediaLimits
from takedown.media.video import REFERENCE_SAMPLING
from takedown.signals import AnySignal, HashOptions, Signal, Variant, hash_bytes
from takedown.signals.wire import stored_value


def reference_options(limits: MediaLimits) -> HashOptions:
    """How a reference is hashed: every turn and the crop grid; a video at every frame, each
    distinct frame once (``REFERENCE_SAMPLING``), so a 1 fps upload of it always has a
    reference frame within one frame interval, even where the shots change every few frames."""
    return HashOptions(limits=limits, dihedral=True, crops=True, video=REFERENCE_SAMPLING)


def reference_signals(data: bytes, limits: MediaLimits) -> list[AnySignal]:
    """Every signal of a reference's bytes, turned and cropped; raises ``MediaError``."""
    return list(hash_bytes(data, reference_options(limits)).signals)


def try_reference_signals(data: bytes | None, limits: MediaLimits) -> list[AnySignal]:
    """As :func:`reference_signals`; nothing for missing or undecodable bytes (the caller
    then has the signals taken at upload only)."""
    if data is None:
        return []
    try:
        return reference_signals(data, limits)
    except MediaError:
        return []


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
