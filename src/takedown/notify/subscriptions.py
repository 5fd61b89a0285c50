"""Who wants status e-mails, and which e-mails are due: a subscription remembers the status
its reporter was last told of; the worker compares it with the status now shown on the
reporter's page and queues one e-mail per change. The reporter can stop the e-mails (the
address is then dropped); they also stop, and the address is dropped, once the decision can
no longer be appealed."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from takedown.cases.policy import Policy
from takedown.notify.address import AddressBox
from takedown.service import cases as case_service
from takedown.store.models import Case, MailOutbox, Report, StatusMail

FINAL_STATES = ("actioned", "dismissed", "confirmed")


def subscribe(
    session: Session,
    box: AddressBox,
    token: str,
    address: str,
    language: str,
    policy: Policy,
    now: datetime,
) -> StatusMail:
    """Ask for e-mails about the report of ``token``, starting from the status it has now (the
    reporter has just seen it on the receipt)."""
    report = case_service.report_for_token(session, token)
    current = case_service.status_of(session, report, policy, now).status
    wish = StatusMail(
        report_id=report.id,
        sealed_address=box.seal(address, report.public_id),
        language=language,
        last_status=current,
        created_at=now,
    )
    session.add(wish)
    session.flush()
    return wish


def _active(session: Session, token: str) -> StatusMail | None:
    report = case_service.report_for_token(session, token)
    return session.execute(
        select(StatusMail).where(StatusMail.report_id == report.id, StatusMail.stopped_at.is_(None))
    ).scalar_one_or_none()


def subscribed(session: Session, token: str) -> bool:
    return _active(session, token) is not None


def _stop(session: Session, wish: StatusMail, now: datetime, why: str) -> None:
    wish.stopped_at = now
    wish.sealed_address = ""
    unsent = session.execute(
        select(MailOutbox).where(
            MailOutbox.status_mail_id == wish.id,
            MailOutbox.sent_at.is_(None),
            MailOutbox.gave_up_at.is_(None),
        )
    ).scalars()
    for mail in unsent:
        mail.gave_up_at = now
        mail.last_error = why


def stop_for_token(session: Session, token: str, now: datetime) -> bool:
    """The reporter stops the e-mails: the address is dropped, unsent e-mails are cancelled."""
    wish = _active(session, token)
    if wish is None:
        return False
    _stop(session, wish, now, "stopped by the reporter")
    return True


def queue_changes(session: Session, policy: Policy, now: datetime) -> int:
    """One outbox row per subscription whose report's shown status changed since its last
    e-mail; returns how many were queued."""
    rows = session.execute(
        select(StatusMail, Report, Case)
        .join(Report, Report.id == StatusMail.report_id)
        .join(Case, Case.id == Report.case_id)
        .where(StatusMail.stopped_at.is_(None))
        .with_for_update(of=StatusMail, skip_locked=True)
    ).all()
    window = timedelta(days=policy.appeal_window_days)
    queued = 0
    for wish, report, case in rows:
        shown = case_service.status_of(session, report, policy, now).status
        if shown != wish.last_status:
            session.add(
                MailOutbox(
                    status_mail_id=wish.id, status=shown, created_at=now, next_attempt_at=now
                )
            )
            wish.last_status = shown
            queued += 1
        elif case.state in FINAL_STATES and case.decided_at and now - case.decided_at > window:
            _stop(session, wish, now, "the decision is final")
    return queued
