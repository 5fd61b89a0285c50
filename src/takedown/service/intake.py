"""Report intake, the same for every door: the API (`POST /v1/reports`) and the public form.

Hashes of the reporter's own copy are looked up in the content index (the copies on the
platform the report is about) and in the banks (a child-abuse bank match raises priority);
copies of the named content lead to the case already open about any of them; the hashes are
then watched for (:mod:`takedown.service.watch`), so that a later upload of the image is held.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy.orm import Session

from takedown.cases.policy import Policy
from takedown.cases.validation import ReportDraft
from takedown.service import reports as report_service
from takedown.service.content import signals_of
from takedown.service.live_index import LiveIndex
from takedown.service.reports import Accepted, Reached
from takedown.service.watch import watch
from takedown.signals import AnySignal, InvalidSignal, Signal
from takedown.signals.pdq import DIHEDRAL_TRANSFORMS
from takedown.signals.registry import get
from takedown.signals.wire import from_stored
from takedown.store.db import Database


@dataclass(frozen=True)
class ReportedHash:
    """A hash of the reporter's own copy; a PDQ hash may bring its 8 dihedral variants,
    computed where the pixels are (the reporter's browser), so that turned and mirrored
    reposts are found as well."""

    type: str
    value: str
    dihedral: Mapping[str, str] | None = None


@dataclass(frozen=True)
class BadHash(Exception):
    """A reported hash that is not a valid signal: its position in the report, and which of
    its parts (``value`` or ``dihedral``) is wrong."""

    position: int
    part: str
    message: str


def report_signals(hashes: Sequence[ReportedHash]) -> list[AnySignal]:
    """The signals of a report's hashes; raises :class:`BadHash`."""
    signals = []
    for position, reported in enumerate(hashes):
        try:
            signal = from_stored(reported.type, reported.value)
        except InvalidSignal as exc:
            raise BadHash(position, "value", str(exc)) from None
        if reported.dihedral:
            try:
                signal = _with_dihedral(signal, reported.dihedral)
            except InvalidSignal as exc:
                raise BadHash(position, "dihedral", str(exc)) from None
        signals.append(signal)
    return signals


def _with_dihedral(signal: AnySignal, variants: Mapping[str, str]) -> Signal:
    if not isinstance(signal, Signal) or signal.type != "pdq":
        raise InvalidSignal("dihedral variants are for pdq hashes only")
    unknown = set(variants) - set(DIHEDRAL_TRANSFORMS)
    if unknown:
        raise InvalidSignal(
            f"unknown transform {sorted(unknown)[0]!r}; use {', '.join(DIHEDRAL_TRANSFORMS)}"
        )
    parse = get("pdq").parse
    named = {name: parse(value) for name, value in variants.items()}
    return replace(signal, dihedral={**named, "original": signal.value})


def accept_report(
    db: Database,
    index: LiveIndex,
    policy: Policy,
    draft: ReportDraft,
    signals: Sequence[AnySignal],
    *,
    trusted_flagger: bool,
    reporter_key_id: int | None,
    now: datetime,
) -> Accepted:
    """Store a report (raises :class:`takedown.service.reports.ReportInvalid`). Blocking: the
    index lookups and one write transaction; callers run it off the event loop."""
    reached: list[Reached] = []
    child_abuse = False
    if signals and index.ready:
        reached = [
            Reached(hit.entry_id, hit.signal_type, hit.distance)
            for hit in index.match_content(signals)
        ]
        child_abuse = any(hit.bank in policy.child_abuse_banks for hit in index.match(signals))

    def related(session: Session, content_pks: Sequence[int]) -> list[int]:
        found = signals_of(session, content_pks)
        return [hit.entry_id for hit in index.match_content(found)] if found else []

    with db.write() as session:
        accepted = report_service.submit(
            session,
            draft,
            policy,
            reached=reached,
            related=related,
            child_abuse_match=child_abuse,
            trusted_flagger=trusted_flagger,
            reporter_key_id=reporter_key_id,
            now=now,
        )
        watched = [*draft.hashes, *_turns_and_flips(signals)]
        watch(session, accepted.case_id, accepted.report_id, watched, draft.category, policy)
        return accepted


def _turns_and_flips(signals: Sequence[AnySignal]) -> list[tuple[str, str]]:
    """The PDQ variants a reporter's browser sent: watched too, since an upload is hashed as
    it is, and a repost is often mirrored or turned."""
    return [
        (signal.type, value)
        for signal in signals
        if isinstance(signal, Signal) and signal.dihedral
        for name, value in signal.dihedral.items()
        if name != "original"
    ]
