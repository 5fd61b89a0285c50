"""Reporters' optional status e-mails: a sealed address per report (``address``), the changes
found and queued (``subscriptions``), the e-mail's words (``message``) and its delivery over
SMTP by the worker (``delivery``). An e-mail says only that the status changed: no content,
no decision, no link, nothing personal beyond the address it goes to."""
