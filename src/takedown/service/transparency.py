"""Gather the transparency report's raw rows for a period and compute the figures."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.orm import InstrumentedAttribute

from takedown.actions.kinds import ActionKind
from takedown.cases.clocks import ClockKind, applies
from takedown.legal.transparency import ClockRow, Figures, figures
from takedown.service.banks import entry_counts
from takedown.store.db import Database
from takedown.store.models import (
    Action,
    Appeal,
    Bank,
    Case,
    CaseClock,
    Content,
    CyberTipReport,
    Decision,
    Report,
)


def transparency(db: Database, start: datetime, end: datetime) -> Figures:
    with db.read() as session:

        def within(
            column: InstrumentedAttribute[datetime] | InstrumentedAttribute[datetime | None],
        ) -> ColumnElement[bool]:
            return and_(column >= start, column < end)

        cases = session.execute(select(Case.category).where(within(Case.created_at))).scalars()
        reports = session.execute(
            select(Report.relationship, Report.trusted_flagger).where(within(Report.created_at))
        ).all()
        decisions = session.execute(
            select(Decision.outcome).where(
                within(Decision.created_at), Decision.recommendation.is_(False)
            )
        ).scalars()
        clocks = [
            ClockRow(c.kind, c.started_at, c.due_at, c.met_at, c.breached_at)
            for c, unresolved in session.execute(
                select(CaseClock, Case.unresolved)
                .join(Case, Case.id == CaseClock.case_id)
                .where(within(CaseClock.started_at))
            ).all()
            # nothing on the platform to restrict: such a restrict clock is no deadline
            if applies(ClockKind(c.kind), not unresolved)
        ]
        takedown_requests = session.execute(
            select(func.count(Case.id)).where(
                within(Case.created_at), Case.takedown_request.is_(True)
            )
        ).scalar_one()
        suspended = session.execute(
            select(func.count(Action.id)).where(
                within(Action.created_at), Action.kind == ActionKind.SUSPEND_ACCOUNT.value
            )
        ).scalar_one()
        appeals = session.execute(select(Appeal.outcome).where(within(Appeal.created_at))).scalars()
        filed = session.execute(
            select(CyberTipReport.id).where(
                CyberTipReport.state == "finished", within(CyberTipReport.finished_at)
            )
        ).all()
        counts = entry_counts(session)
        banks = {
            b.name: counts.get(b.id, (0, 0))[1] for b in session.execute(select(Bank)).scalars()
        }
        verdicts = session.execute(
            select(Content.verdict).where(within(Content.registered_at))
        ).scalars()
        return figures(
            (start, end),
            case_categories=list(cases),
            report_sources=[
                "trusted_flagger" if trusted else relationship for relationship, trusted in reports
            ],
            decision_outcomes=list(decisions),
            clocks=clocks,
            appeal_outcomes=list(appeals),
            cybertip_finished=len(filed),
            bank_sizes=banks,
            upload_verdicts=list(verdicts),
            takedown_requests=int(takedown_requests),
            accounts_suspended=int(suspended),
        )
