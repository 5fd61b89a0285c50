"""Reporters' optional status e-mails, on SQLite and PostgreSQL, through a real SMTP server
(tests/smtp_server.py) and the service's own worker: a reporter who gives an address is
e-mailed when the status on their page changes, once per change; the e-mail says only that
there is an update (no content, no decision, no status link); the address is stored sealed,
never logged, and dropped when the reporter stops the e-mails. A refused delivery is retried."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from takedown.cases.policy import load_policy
from takedown.notify.address import AddressBox
from takedown.notify.delivery import Mailer, SmtpConfig
from takedown.store.models import MailOutbox, Report, StatusMail
from tests.service_support import Service, make_settings, running_service, wait_for
from tests.smtp_server import Mailbox, smtp_server

ADDRESS = "parent.of.sam@example.org"
LINK = "https://photos.example/p/post-1"
DESCRIPTION = "posted by his classmate"


@pytest.fixture
def mail_service(db_url: str, tmp_path: Path) -> Iterator[tuple[Service, Mailbox]]:
    with smtp_server() as (port, mailbox):
        settings = make_settings(
            tmp_path,
            db_url,
            background_worker=True,
            smtp_host="127.0.0.1",
            smtp_port=port,
            mail_from="reports@platform.example",
            mail_check_s=0.1,
            clock_tick_s=0.1,
        )
        with running_service(settings) as service:
            yield service, mailbox


def _form_token(service: Service, path: str) -> str:
    page = service.client.get(path)
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found is not None, page.text
    return found.group(1)


def _report_with_mail(service: Service, notify: str = ADDRESS) -> tuple[str, str, str]:
    """A report through the public form asking for e-mails: (report id, status token, case)."""
    answer = service.post(
        "/v1/content",
        json={
            "content_id": "post-1",
            "uploader_id": "u-1",
            "url": LINK,
            "signals": [{"type": "md5", "value": "5d41402abc4b2a76b9719d911017c592"}],
        },
    )
    assert answer.status_code == 201, answer.text
    page = service.client.post(
        "/report",
        data={
            "csrf_token": _form_token(service, "/report"),
            "url": LINK,
            "category": "other",
            "minor_depicted": "no",
            "relationship": "other_user",
            "description": DESCRIPTION,
            "notify_email": notify,
        },
    )
    assert page.status_code == 201, page.text
    assert 'id="mail-note"' in page.text
    token = re.search(r'id="status-link" href="[^"]*/status/([^"]+)"', page.text)
    report_id = re.search(r'id="report-id">([^<]+)<', page.text)
    assert token and report_id
    with service.db.read() as session:
        case_id = session.execute(
            select(Report.case_id).where(Report.public_id == report_id.group(1))
        ).scalar_one()
    return report_id.group(1), token.group(1), str(case_id)


def _dismiss(service: Service, case_id: str) -> None:
    reviewer = service.staff("reviewer")
    answer = service.as_(
        reviewer, "POST", f"/v1/cases/{case_id}/decisions", json={"outcome": "no_violation"}
    )
    assert answer.status_code == 201, answer.text


def test_a_status_change_is_mailed_without_content(
    mail_service: tuple[Service, Mailbox], caplog: pytest.LogCaptureFixture
) -> None:
    service, mailbox = mail_service
    caplog.set_level(logging.DEBUG)
    report_id, token, case_id = _report_with_mail(service)
    with service.db.read() as session:
        wish = session.execute(select(StatusMail)).scalar_one()
        assert ADDRESS not in wish.sealed_address and wish.sealed_address
        assert wish.last_status == "received"
    _dismiss(service, case_id)
    wait_for(lambda: len(mailbox.messages()) == 1, 10, "the status e-mail")
    (mail,) = mailbox.messages()
    assert mail.recipients == (ADDRESS,) and mail.sender == "reports@platform.example"
    message = mail.message
    assert report_id in str(message["Subject"])
    body = message.get_content()
    assert report_id in body and "status link" in body
    for secret in (token, LINK, DESCRIPTION, "no_violation", "did not find"):
        assert secret not in mail.data.decode(), secret  # no content, no decision, no link
    # one e-mail per change, not one per round; marked sent once the server took it

    def sent() -> bool:
        with service.db.read() as session:
            (mail,) = session.execute(select(MailOutbox)).scalars()
            assert mail.status == "no_violation_found"
            return mail.sent_at is not None

    wait_for(sent, 10, "the outbox row marked sent")
    # the reporter's appeal is the next change: a second e-mail
    appealed = service.client.post(
        f"/status/{token}",
        data={"csrf_token": _form_token(service, f"/status/{token}"), "action": "appeal"},
        follow_redirects=False,
    )
    assert appealed.status_code == 303
    wait_for(lambda: len(mailbox.messages()) == 2, 10, "the second status e-mail")
    assert all(ADDRESS not in record.getMessage() for record in caplog.records)


def test_stopping_drops_the_address(mail_service: tuple[Service, Mailbox]) -> None:
    service, mailbox = mail_service
    _report_id, token, case_id = _report_with_mail(service)
    assert "Stop the e-mails" in service.client.get(f"/status/{token}").text
    stopped = service.client.post(
        f"/status/{token}",
        data={"csrf_token": _form_token(service, f"/status/{token}"), "action": "stop_mail"},
        follow_redirects=False,
    )
    assert stopped.status_code == 303
    with service.db.read() as session:
        wish = session.execute(select(StatusMail)).scalar_one()
        assert wish.stopped_at is not None and wish.sealed_address == ""
    assert "Stop the e-mails" not in service.client.get(f"/status/{token}").text
    _dismiss(service, case_id)
    with service.db.read() as session:
        assert session.execute(select(MailOutbox)).first() is None
    assert mailbox.messages() == []


def test_a_bad_address_is_refused_and_nothing_is_stored(
    mail_service: tuple[Service, Mailbox],
) -> None:
    service, _mailbox = mail_service
    page = service.client.post(
        "/report",
        data={
            "csrf_token": _form_token(service, "/report"),
            "url": LINK,
            "category": "other",
            "minor_depicted": "no",
            "relationship": "other_user",
            "notify_email": "my mum's phone",
        },
    )
    assert page.status_code == 422
    assert 'id="notify-email-error"' in page.text
    with service.db.read() as session:
        assert session.execute(select(Report)).first() is None
        assert session.execute(select(StatusMail)).first() is None


def test_a_refused_delivery_is_retried_later(db_url: str, tmp_path: Path) -> None:
    """The mail step on its own, with its clock moved by hand: a 451 is kept as an error
    name (never the server's words, which may quote the address) and retried after the
    back-off; a sealed address bound to another report does not open."""
    with smtp_server() as (port, mailbox):
        settings = make_settings(tmp_path, db_url, smtp_host="127.0.0.1", smtp_port=port)
        with running_service(settings) as service:
            _report_id, _token, case_id = _report_with_mail(service)
            _dismiss(service, case_id)
            secret = service.client.app.state.takedown.secret  # type: ignore[attr-defined]
            mailer = Mailer(
                service.db,
                SmtpConfig.of(settings) or pytest.fail("no SMTP config"),
                AddressBox(secret),
                load_policy(None),
                check_s=0.0,
            )
            now = service.client.app.state.takedown.now()  # type: ignore[attr-defined]
            mailbox.refuse_next = 1
            assert mailer.run(now) == 0
            with service.db.read() as session:
                mail = session.execute(select(MailOutbox)).scalar_one()
                assert (mail.attempts, mail.sent_at) == (1, None)
                assert mail.last_error == "SMTPRecipientsRefused"
            assert mailer.send_due(now + timedelta(seconds=5)) == 0  # not due yet
            assert mailer.send_due(now + timedelta(seconds=31)) == 1
            assert [m.recipients for m in mailbox.messages()] == [(ADDRESS,)]
            with service.db.read() as session:
                wish = session.execute(select(StatusMail)).scalar_one()
                box = AddressBox(secret)
                assert box.open(wish.sealed_address, _report_id) == ADDRESS
                with pytest.raises(Exception, match="does not open"):
                    box.open(wish.sealed_address, "another-report")


def test_without_a_mail_server_the_form_does_not_offer_mails(service: Service) -> None:
    page = service.client.get("/report")
    assert "notify_email" not in page.text
