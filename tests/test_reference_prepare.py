"""Reference hashing outside the decision's write transaction, and the half-size variant
(issue 14).

A confirmation hashes the reported items' evidence bytes as references (every turn and crop, a
video at every frame): 0.2-3.4 s an item. The decision routes do it first, in a read
transaction (``CopySearcher.prepare``); the search inside the write transaction then uses what
was prepared. A copy posted at half size is within the removal distance of the reference's
half-size variant, so it is removed at confirmation, not only restricted for a person.
"""

from __future__ import annotations

import io
import threading
from pathlib import Path

from PIL import Image

from takedown.cases.policy import load_policy
from takedown.media import MediaLimits
from takedown.service.copies import copies_in
from takedown.service.references import ReferenceCache, reference_signals
from takedown.signals import HashOptions, Signal, hash_bytes
from takedown.signals.pdq import hamming
from tests.service_support import Service, wait_for


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def _values(signals: object) -> list[str]:
    assert isinstance(signals, (list, tuple))
    return [
        value
        for s in signals
        if isinstance(s, Signal) and s.type == "pdq" and s.usable
        for value in (s.dihedral or {"original": s.value}).values()
    ]


def test_half_size_copies_are_within_the_removal_distance(photo_paths: list[Path]) -> None:
    """Every 10th shared photo, halved (Lanczos) and posted as PNG, hashed as uploads are."""
    limit = load_policy().auto_remove_distance
    far = []
    for path in photo_paths[::10]:
        with Image.open(path) as image:
            rgb = image.convert("RGB")
            half = rgb.resize((rgb.width // 2, rgb.height // 2), Image.Resampling.LANCZOS)
        reference = _values(reference_signals(path.read_bytes(), MediaLimits()))
        upload = _values(hash_bytes(_png(half), HashOptions(mirror_image=True)).signals)
        if not reference or not upload:
            continue
        distance = min(hamming(a, b) for a in upload for b in reference)
        if distance > limit:
            far.append((path.name, distance))
    assert far == []


def test_references_are_hashed_before_the_write_transaction(
    service: Service, photo_paths: list[Path]
) -> None:
    state = service.client.app.state.takedown  # type: ignore[attr-defined]
    photo = photo_paths[3].read_bytes()
    answer = service.post(
        "/v1/content",
        data={"content_id": "item"},
        files={"file": ("item.jpg", photo, "image/jpeg")},
    )
    assert answer.status_code == 201, answer.text
    wait_for(lambda: state.index.sizes()["_content"] >= 1, 5, "the content index")
    state.evidence.put("item", photo)
    reported = service.client.post(
        "/v1/reports",
        json={
            "content": [{"content_id": "item"}],
            "category": "other",
            "minor_depicted": "no",
            "relationship": "other_user",
        },
    )
    assert reported.status_code == 201, reported.text
    case_id = int(reported.json()["case_id"])
    searcher = copies_in(state.index, state.evidence).prepare(state.db, case_id)
    assert list(searcher.prepared) == ["item"]
    assert len(_values(searcher.prepared["item"])) > 400  # turns, flips, crops, half size
    # the bytes can no longer be hashed: what the search finds now comes from the preparation
    searcher.references = ReferenceCache(MediaLimits(max_bytes=1))
    with state.db.write() as session:
        search = searcher(session, case_id)
    values = {entry.value for entry in search.references}
    assert len(values) > 400 and set(_values(searcher.prepared["item"])) <= values
    # without a preparation the same search, hashing inside, finds no reference variant
    with state.db.write() as session:
        unprepared = copies_in(
            state.index, state.evidence, ReferenceCache(MediaLimits(max_bytes=1))
        )
        assert unprepared(session, case_id).references == []
    # the report's capture hashed the item's evidence already: a confirmation through the
    # worker's cache gets those very signals and hashes nothing again
    wait_for(lambda: len(state.references) == 1, 30, "the reference hashed at capture")
    warmed = state.references.signals(photo)
    cached = copies_in(state.index, state.evidence, state.references).prepare(state.db, case_id)
    assert cached.prepared["item"] is warmed


def test_a_confirmation_waits_for_the_capture_hashing_the_same_bytes(
    photo_paths: list[Path],
) -> None:
    """The capture is still hashing an item when the decision asks for it: the decision gets
    the capture's signals (the very list), not a second hashing of its own beside it."""
    cache = ReferenceCache(MediaLimits())
    photo = photo_paths[5].read_bytes()
    got: list[object] = []
    threads = [threading.Thread(target=lambda: got.append(cache.signals(photo))) for _ in "ab"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(got) == 2 and got[0] is got[1] and len(cache) == 1
