"""Copies of a case's reported items: content the platform holds that their hashes match.

A decision that removes content removes every copy too; which decisions do is the case state
machine's call (its ruling carries ``Effect.REMOVE_ALL``), so the service asks for copies only
then, through a :data:`takedown.service.cases.CopyFinder` bound to the worker's content index.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from takedown.service.cases import CopyFinder, CopyHit, reported_pks
from takedown.service.content import signals_of
from takedown.service.live_index import LiveIndex


def copies_in(index: LiveIndex) -> CopyFinder:
    """A finder of the content items the case's reported items match in ``index``."""

    def find(session: Session, case_id: int) -> Sequence[CopyHit]:
        signals = signals_of(session, reported_pks(session, case_id))
        return [
            CopyHit(hit.entry_id, hit.signal_type, hit.distance)
            for hit in index.match_content(signals)
        ]

    return find
