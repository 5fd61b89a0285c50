"""Copies of a case's reported items: content the platform holds that their hashes match.

A decision that removes content removes every copy too; which decisions do is the case state
machine's call (its ruling carries ``Effect.REMOVE_ALL``), so the service asks for copies only
then, through a :data:`takedown.service.cases.CopyFinder` bound to the worker's content index.

The reported items become references here: their evidence bytes, where the vault holds them,
are hashed with every turn and the crop grid, and a video at every frame
(:mod:`takedown.service.references`), so a copy posted turned, cut or darkened is found among
the single hashes uploads gave the content index, and the same variants go into the confirmed
bank. That hashing takes 0.2-3.4 s an item, so it is done when the item's evidence is captured, at
report time (:class:`takedown.service.references.ReferenceCache`), else by a caller about to
confirm (:meth:`CopySearcher.prepare`, in a read transaction); the decision's write
transaction, which serialises every writer, only matches.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from takedown.legal.evidence import EvidenceStore
from takedown.matching import banks as bank_files
from takedown.media import MediaLimits
from takedown.service.cases import CopyHit, CopySearch, reported_pks
from takedown.service.content import signals_of
from takedown.service.live_index import LiveIndex
from takedown.service.references import ReferenceCache, reference_entries
from takedown.signals import AnySignal
from takedown.store.db import Database
from takedown.store.models import Content


class CopySearcher:
    """A :data:`takedown.service.cases.CopyFinder`: the content items the case's reported
    items match in ``index``, their bytes from ``evidence`` hashed as references through
    ``references`` (the worker's cache, warmed when evidence is captured; without evidence:
    the signals taken at upload only)."""

    def __init__(
        self,
        index: LiveIndex,
        evidence: EvidenceStore | None = None,
        references: ReferenceCache | None = None,
    ) -> None:
        self.index = index
        self.evidence = evidence
        self.references = references if references is not None else ReferenceCache(MediaLimits())
        self.prepared: dict[str, list[AnySignal]] = {}

    def prepare(self, db: Database, case_id: int) -> CopySearcher:
        """Hash the case's reported items as references now (where the cache has not),
        outside the decision's write transaction; an item that joins the case after this is
        hashed during the search."""
        if self.evidence is None:
            return self
        with db.read() as session:
            ids = list(_content_ids(session, case_id))
        for content_id in ids:
            self.prepared[content_id] = self.references.signals(self.evidence.get(content_id))
        return self

    def __call__(self, session: Session, case_id: int) -> CopySearch:
        pks = reported_pks(session, case_id)
        signals: list[AnySignal] = list(signals_of(session, pks))
        references: list[bank_files.BankEntry] = []
        if self.evidence is not None:
            for content_id in _content_ids(session, case_id):
                variants = self.prepared.get(content_id)
                if variants is None:
                    variants = self.references.signals(self.evidence.get(content_id))
                signals.extend(variants)
                references += reference_entries(variants, "", "", f"content:{content_id}")
        hits = [
            CopyHit(hit.entry_id, hit.signal_type, hit.distance)
            for hit in self.index.match_content(signals)
        ]
        return CopySearch(hits, references)


def copies_in(
    index: LiveIndex,
    evidence: EvidenceStore | None = None,
    references: ReferenceCache | None = None,
) -> CopySearcher:
    """A finder of the content items the case's reported items match in ``index``, hashing
    their bytes from ``evidence`` as references (without it: the signals taken at upload)."""
    return CopySearcher(index, evidence, references)


def _content_ids(session: Session, case_id: int) -> list[str]:
    pks = reported_pks(session, case_id)
    return list(session.execute(select(Content.content_id).where(Content.id.in_(pks))).scalars())
