"""Sending the status e-mails (a step of the background worker): changes found are queued,
then due e-mails are claimed by moving their next attempt on (so that two workers do not send
one twice), sent over SMTP, and marked sent; a failure is retried with a doubling delay and
given up after ``MAX_ATTEMPTS``. Logs name the outbox row only, never the address."""

from __future__ import annotations

import logging
import smtplib
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

from sqlalchemy import select

from takedown.cases.policy import Policy
from takedown.config import Settings
from takedown.notify.address import AddressBox, AddressUnreadable
from takedown.notify.message import status_mail
from takedown.notify.subscriptions import queue_changes
from takedown.store.db import Database
from takedown.store.models import MailOutbox, Report, StatusMail
from takedown.web.session import secret_key
from takedown.web.templating import Language

log = logging.getLogger("takedown.mail")

MAX_ATTEMPTS = 8
FIRST_RETRY = timedelta(seconds=30)
BATCH = 50


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    starttls: bool
    username: str
    password: str
    sender: str
    timeout_s: float = 20.0

    @classmethod
    def of(cls, settings: Settings) -> SmtpConfig | None:
        if not settings.smtp_host:
            return None
        return cls(
            settings.smtp_host,
            settings.smtp_port,
            settings.smtp_starttls,
            settings.smtp_username,
            settings.smtp_password,
            settings.mail_from,
        )


@dataclass(frozen=True)
class Claimed:
    outbox_id: int
    report_id: str
    sealed_address: str
    language: str


class Mailer:
    """The worker's mail step; ``run`` looks for changes every ``check_every`` and sends due
    e-mails on every call."""

    def __init__(
        self, db: Database, smtp: SmtpConfig, box: AddressBox, policy: Policy, check_s: float
    ) -> None:
        self.db = db
        self.smtp = smtp
        self.box = box
        self.policy = policy
        self.check_every = timedelta(seconds=check_s)
        self._checked: datetime | None = None

    def run(self, now: datetime) -> int:
        if self._checked is None or now - self._checked >= self.check_every:
            with self.db.write() as session:
                queue_changes(session, self.policy, now)
            self._checked = now
        return self.send_due(now)

    def _claim(self, now: datetime) -> list[Claimed]:
        with self.db.write() as session:
            rows = session.execute(
                select(MailOutbox, StatusMail, Report)
                .join(StatusMail, StatusMail.id == MailOutbox.status_mail_id)
                .join(Report, Report.id == StatusMail.report_id)
                .where(
                    MailOutbox.sent_at.is_(None),
                    MailOutbox.gave_up_at.is_(None),
                    MailOutbox.next_attempt_at <= now,
                )
                .order_by(MailOutbox.id)
                .limit(BATCH)
                .with_for_update(of=MailOutbox, skip_locked=True)
            ).all()
            claimed = []
            for mail, wish, report in rows:
                mail.attempts += 1
                mail.next_attempt_at = now + FIRST_RETRY * 2 ** (mail.attempts - 1)
                claimed.append(
                    Claimed(mail.id, report.public_id, wish.sealed_address, wish.language)
                )
            return claimed

    def _finish(self, outbox_id: int, now: datetime, error: str) -> None:
        with self.db.write() as session:
            mail = session.get(MailOutbox, outbox_id)
            if mail is None:
                return
            if not error:
                mail.sent_at = now
                mail.last_error = ""
            else:
                mail.last_error = error[:200]
                if mail.attempts >= MAX_ATTEMPTS or error == "address unreadable":
                    mail.gave_up_at = now

    def send_due(self, now: datetime) -> int:
        sent = 0
        for item in self._claim(now):
            try:
                address = self.box.open(item.sealed_address, item.report_id)
            except AddressUnreadable:
                log.warning("status mail %s: its address does not open", item.outbox_id)
                self._finish(item.outbox_id, now, "address unreadable")
                continue
            message = status_mail(
                Language.named(item.language), item.report_id, self.smtp.sender, address, now
            )
            try:
                self._send(message)
            except (OSError, smtplib.SMTPException) as error:
                # the exception's text can quote the address (a refused recipient): not kept
                log.warning("status mail %s not sent: %s", item.outbox_id, type(error).__name__)
                self._finish(item.outbox_id, now, type(error).__name__)
                continue
            self._finish(item.outbox_id, now, "")
            log.info("status mail %s sent", item.outbox_id)
            sent += 1
        return sent

    def _send(self, message: EmailMessage) -> None:
        with smtplib.SMTP(self.smtp.host, self.smtp.port, timeout=self.smtp.timeout_s) as smtp:
            if self.smtp.starttls:
                smtp.starttls()
            if self.smtp.username:
                smtp.login(self.smtp.username, self.smtp.password)
            smtp.send_message(message)


def mail_until(db: Database, settings: Settings, policy: Policy, stop: threading.Event) -> None:
    """The mail step on its own thread of the worker (a slow mail server holds up no deadline
    clock); does nothing when no mail server is configured."""
    smtp = SmtpConfig.of(settings)
    if smtp is None:
        return
    box = AddressBox(secret_key(settings.secret_key, settings.home))
    mailer = Mailer(db, smtp, box, policy, settings.mail_check_s)
    while not stop.is_set():
        try:
            mailer.run(datetime.now(UTC))
        except Exception:
            log.exception("mail round failed; retrying")
        stop.wait(min(settings.clock_tick_s, settings.mail_check_s))


def start_mailer(
    db: Database, settings: Settings, policy: Policy, stop: threading.Event
) -> threading.Thread | None:
    if not settings.smtp_host:
        return None
    thread = threading.Thread(
        target=mail_until, args=(db, settings, policy, stop), name="status-mail", daemon=True
    )
    thread.start()
    return thread
