"""Content use cases: register an upload with its verdict, look signals up, take platform
updates. The verdict is decided here from the live index's hits; the API only carries it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from takedown.actions.kinds import ActionKind
from takedown.actions.outbox import emit
from takedown.matching.transforms import reported
from takedown.service.live_index import BankHit, EntryInfo
from takedown.signals import AnySignal, InvalidSignal
from takedown.signals.strength import assess
from takedown.signals.wire import from_stored, indexed_values
from takedown.store.db import serialize
from takedown.store.models import CaseContent, Content, ContentSignal, utcnow

CONTENT_STATUSES = ("live", "blocked", "restricted", "removed", "restored", "deleted")
_STATUS_FOR = {"allow": "live", "block": "blocked", "hold": "restricted"}


class Verdict(StrEnum):
    ALLOW = "allow"
    BLOCK = "block"
    HOLD = "hold"


_STRENGTH = {Verdict.ALLOW: 0, Verdict.HOLD: 1, Verdict.BLOCK: 2}
_ACTION_FOR = {Verdict.BLOCK: ActionKind.REMOVE, Verdict.HOLD: ActionKind.RESTRICT}


@dataclass(frozen=True)
class MatchInfo:
    """One bank entry a request matched, as platforms receive it."""

    bank: str
    entry_id: str
    label: str
    signal_type: str
    distance: float
    external_id: str = ""
    transform: str | None = None
    query_share: float | None = None
    target_share: float | None = None
    action: str = "block"

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        if self.distance == int(self.distance):
            out["distance"] = int(self.distance)
        return out


@dataclass(frozen=True)
class ContentInfo:
    content_id: str
    uploader_id: str = ""
    url: str = ""
    kind: str = ""
    posted_at: datetime | None = None


def verdict_for(matches: Sequence[MatchInfo]) -> Verdict:
    """The strongest of the matched banks' actions: one block-bank match blocks."""
    verdict = Verdict.ALLOW
    for match in matches:
        candidate = Verdict(match.action)
        if _STRENGTH[candidate] > _STRENGTH[verdict]:
            verdict = candidate
    return verdict


def describe(hits: Sequence[BankHit], infos: Mapping[int, EntryInfo]) -> list[MatchInfo]:
    """Hits with their entries' labels; entries of one bank sharing an external id (variants
    of one item) are reported once, nearest. Entries disabled since the hit are dropped."""
    best: dict[tuple[str, str, str], MatchInfo] = {}
    for found in hits:
        entry_id = found.hit.entry_id
        info = infos.get(entry_id)
        if info is None or not info.enabled:
            continue
        match = MatchInfo(
            bank=found.bank,
            entry_id=str(entry_id),
            label=info.label,
            signal_type=found.hit.signal_type,
            distance=found.hit.distance,
            external_id=info.external_id,
            transform=reported(found.hit.transform, info.transform),
            query_share=found.hit.query_share,
            target_share=found.hit.target_share,
            action=found.action,
        )
        key = (found.bank, info.external_id or f"#{entry_id}", found.hit.signal_type)
        if key not in best or match.distance < best[key].distance:
            best[key] = match
    return sorted(best.values(), key=lambda m: (m.distance, m.bank, m.entry_id))


def find(session: Session, content_id: str) -> Content | None:
    return session.execute(
        select(Content).where(Content.content_id == content_id)
    ).scalar_one_or_none()


def case_of(session: Session, content: Content) -> int | None:
    """The first case that reaches this content (a held upload's review, a report's case)."""
    found: int | None = session.execute(
        select(func.min(CaseContent.case_id)).where(CaseContent.content_pk == content.id)
    ).scalar_one()
    return found


def register(
    session: Session,
    info: ContentInfo,
    signals: Sequence[AnySignal],
    matches: Sequence[MatchInfo],
) -> tuple[Content, bool]:
    """Store a content item with its signals and verdict; idempotent on the content id (the
    first registration's verdict is returned again, nothing new is written). A block or hold
    verdict also writes its action (remove, restrict) in the same transaction."""
    serialize(session)
    existing = find(session, info.content_id)
    if existing is not None:
        return existing, False
    verdict = verdict_for(matches)
    content = Content(
        content_id=info.content_id,
        uploader_id=info.uploader_id,
        url=info.url,
        kind=info.kind,
        posted_at=info.posted_at,
        status=_STATUS_FOR[verdict.value],
        verdict=verdict.value,
        matches=[m.to_json() for m in matches],
        fingerprint=assess(signals).to_json(),
    )
    session.add(content)
    session.flush()
    for signal in signals:
        for value in indexed_values(signal):
            session.add(ContentSignal(content_pk=content.id, signal_type=signal.type, value=value))
    kind = _ACTION_FOR.get(verdict)
    if kind is not None:
        emit(
            session,
            kind,
            content_id=info.content_id,
            reason="bank_match",
            data={"verdict": verdict.value, "matches": content.matches},
        )
    return content, True


def update(
    session: Session,
    content: Content,
    *,
    status: str | None = None,
    url: str | None = None,
    signals: Sequence[AnySignal] = (),
) -> Content:
    """The platform tells of a deletion or an edit (new URL, new media signals)."""
    if status is not None:
        if status not in CONTENT_STATUSES:
            raise ValueError(f"status must be one of {', '.join(CONTENT_STATUSES)}")
        content.status = status
    if url is not None:
        content.url = url
    if signals:
        serialize(session)
        for signal in signals:
            for value in indexed_values(signal):
                session.add(
                    ContentSignal(content_pk=content.id, signal_type=signal.type, value=value)
                )
    content.updated_at = utcnow()
    return content


def signals_of(session: Session, content_pks: Sequence[int]) -> list[AnySignal]:
    """The stored signals of content items, read back (unreadable ones skipped)."""
    if not content_pks:
        return []
    rows = session.execute(
        select(ContentSignal.signal_type, ContentSignal.value).where(
            ContentSignal.content_pk.in_(list(content_pks))
        )
    ).all()
    signals: list[AnySignal] = []
    for signal_type, value in rows:
        try:
            signals.append(from_stored(signal_type, value))
        except InvalidSignal:
            continue
    return signals
