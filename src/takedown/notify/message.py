"""The words of a status e-mail: that the status of report N changed, and where to read it
(the private link the reporter kept; the e-mail does not carry it, since a mailbox can be
shared or read by the very person reported). Nothing of the report, the content or the
decision is in it."""

from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from takedown.web.templating import N_, Language

SUBJECT = N_("An update on your report %(report)s")
BODY = N_(
    "Hello,\n\n"
    "There is an update on the report %(report)s that you sent. To read it, open the private "
    "status link you were given when you sent the report.\n\n"
    "For your privacy this e-mail says nothing more. You can stop these e-mails on the status "
    "page.\n\n"
    "If someone is in danger right now, call your local emergency number.\n"
)


def status_mail(
    language: Language, report_id: str, sender: str, to: str, now: datetime
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = language.gettext(SUBJECT, report=report_id)
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(language.gettext(BODY, report=report_id))
    return message
