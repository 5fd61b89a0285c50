"""The rate limit in front of both doors of report intake (``POST /v1/reports`` and the public
form), asked only once a report has validated (see :class:`takedown.api.state.RateLimiter`).

A P0 report (one alleging a minor in sexual content, or of child sexual abuse, or whose hash
matches a child-abuse bank: the same triage that will file it) is never refused because
everyone's budget is spent: it is admitted and stored at once, which means its content is
restricted in the same request and its case waits in the child-safety review queue with its
clocks running, like any P0. Only the client's own limit can refuse it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from takedown.api.clients import request_client
from takedown.api.state import AppState, Verdict, app_state
from takedown.cases.policy import triage
from takedown.cases.validation import ReportDraft
from takedown.cases.vocabulary import Priority
from takedown.signals import AnySignal

log = logging.getLogger("takedown.api")


def alleges_p0(state: AppState, draft: ReportDraft, signals: Sequence[AnySignal]) -> bool:
    """Whether triage will make this report P0 (before it is stored). Blocking (an index
    lookup when the report's words alone do not say P0)."""

    def p0(child_abuse_match: bool) -> bool:
        plan = triage(
            state.policy,
            draft.category,
            draft.minor_depicted,
            child_abuse_match=child_abuse_match,
        )
        return plan.priority is Priority.P0

    if p0(False):
        return True
    if not signals or not state.index.ready:
        return False
    banks = state.policy.child_abuse_banks
    return p0(any(hit.bank in banks for hit in state.index.match(signals)))


async def admit_report(
    request: Request, draft: ReportDraft, signals: Sequence[AnySignal]
) -> Verdict:
    """Charge one valid report to its client and to everyone's budget."""
    state = app_state(request)
    address = request_client(request)

    def run() -> Verdict:
        return state.limiter.admit(
            state.db, address, state.now(), p0=alleges_p0(state, draft, signals)
        )

    verdict = await run_in_threadpool(run)
    if verdict is Verdict.ADMIT_OVER_BUDGET:
        log.warning("a P0 report was admitted over the global report budget")
    return verdict
