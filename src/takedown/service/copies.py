"""Copies of a case's reported items: content the platform holds that their hashes match.

A decision that removes content removes every copy too; which decisions do is the case state
machine's call (its ruling carries ``Effect.REMOVE_ALL``), so the service asks for copies only
then, through a :data:`takedown.service.cases.CopyFinder` bound to the worker's content index.

The reported items become references here: their evidence bytes, where the vault holds them,
are hashed with every turn and the crop grid (:mod:`takedown.service.references`), so a copy
posted turned or cut is found among the single hashes uploads gave the content index, and the
same variants go into the confirmed bank.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from takedown.legal.evidence import EvidenceStore
from takedown.matching import banks as bank_files
from takedown.media import MediaLimits
from takedown.service.cases import CopyFinder, CopyHit, CopySearch, reported_pks
from takedown.service.content import signals_of
from takedown.service.live_index import LiveIndex
from takedown.service.references import reference_entries, try_reference_signals
from takedown.signals import AnySignal
from takedown.store.models import Content


def copies_in(
    index: LiveIndex, evidence: EvidenceStore | None = None, limits: MediaLimits | None = None
) -> CopyFinder:
    """A finder of the content items the case's reported items match in ``index``, hashing
    their bytes from ``evidence`` as references (without it: the signals taken at upload)."""

    def find(session: Session, case_id: int) -> CopySearch:
        pks = reported_pks(session, case_id)
        signals: list[AnySignal] = list(signals_of(session, pks))
        references: list[bank_files.BankEntry] = []
        if evidence is not None:
            ids = session.execute(select(Content.content_id).where(Content.id.in_(pks))).scalars()
            for content_id in ids:
                variants = try_reference_signals(evidence.get(content_id), limits or MediaLimits())
                signals.extend(variants)
                references += reference_entries(variants, "", "", f"content:{content_id}")
        hits = [
            CopyHit(hit.entry_id, hit.signal_type, hit.distance)
            for hit in index.match_content(signals)
        ]
        return CopySearch(hits, references)

    return find
