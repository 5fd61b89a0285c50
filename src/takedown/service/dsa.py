"""Sending statements of reasons to the DSA Transparency Database: every removal decision,
once; a statement the database refuses is marked with its errors and not sent again until
fixed, and the rest of its batch goes in the next round (batches are all-or-nothing)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from takedown.audit.log import SYSTEM, record
from takedown.cases.policy import Policy
from takedown.cases.vocabulary import Category
from takedown.legal.dsa import DsaStatement, statement_for
from takedown.legal.dsa_client import BATCH, DsaClient, DsaRejected
from takedown.store.db import Database
from takedown.store.models import Case, CaseContent, Content, Decision, Report

REMOVALS = ("violation", "overturned")


def _statement(session: Session, decision: Decision, policy: Policy) -> DsaStatement | None:
    case = session.get(Case, decision.case_id)
    if case is None or case.state not in ("actioned", "confirmed"):
        return None
    items = list(
        session.execute(
            select(Content)
            .join(CaseContent, CaseContent.content_pk == Content.id)
            .where(CaseContent.case_id == case.id, CaseContent.role == "reported")
        ).scalars()
    )
    trusted = session.execute(
        select(Report.id).where(Report.case_id == case.id, Report.trusted_flagger.is_(True))
    ).first()
    first_seen = min((c.posted_at or c.registered_at for c in items), default=case.created_at)
    category = Category(case.category)
    return statement_for(
        puid=f"takedown-decision-{decision.id}",
        category=category,
        content_kind=items[0].kind if items else "image",
        content_date=first_seen.date(),
        application_date=decision.created_at.date(),
        facts=str(decision.statement.get("facts") or decision.note or "Reviewed by a person."),
        source_type="SOURCE_TRUSTED_FLAGGER" if trusted else "SOURCE_ARTICLE_16",
        automated_detection=bool(decision.statement.get("automated_detection")),
        account_suspended=category in policy.suspend_uploader_on,
    )


def send_pending(db: Database, client: DsaClient, policy: Policy, now: datetime) -> int:
    """Send what is pending (in batches of 100); returns how many were accepted."""
    with db.read() as session:
        decisions = list(
            session.execute(
                select(Decision)
                .where(
                    Decision.outcome.in_(REMOVALS),
                    Decision.recommendation.is_(False),
                    Decision.dsa_sent_at.is_(None),
                    Decision.dsa_error == "",
                )
                .order_by(Decision.id)
                .limit(BATCH * 10)
            ).scalars()
        )
        pending = [(d.id, s) for d in decisions if (s := _statement(session, d, policy))]
    sent = 0
    for start in range(0, len(pending), BATCH):
        batch = pending[start : start + BATCH]
        try:
            client.send([s for _, s in batch])
        except DsaRejected as refused:
            with db.write() as session:
                for index, errors in refused.errors.items():
                    if 0 <= index < len(batch):
                        decision = session.get(Decision, batch[index][0])
                        if decision is not None:
                            decision.dsa_error = str(errors)[:2000]
                record(session, SYSTEM, "dsa.refused", "dsa", {"errors": len(refused.errors)})
            continue
        with db.write() as session:
            for decision_id, _ in batch:
                decision = session.get(Decision, decision_id)
                if decision is not None:
                    decision.dsa_sent_at = now
            record(session, SYSTEM, "dsa.sent", "dsa", {"statements": len(batch)})
        sent += len(batch)
    return sent
