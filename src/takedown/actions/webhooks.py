"""Webhook receivers: created with a fresh signing secret (shown once), disabled, audited.
A receiver's URL is http(s) outside the denied networks (:mod:`takedown.actions.addresses`)."""

from __future__ import annotations

import secrets
from collections.abc import Sequence

from sqlalchemy.orm import Session

from takedown.actions.addresses import CheckedUrl
from takedown.actions.kinds import ActionKind
from takedown.audit.log import record
from takedown.store.models import Webhook


def create_webhook(
    session: Session, checked: CheckedUrl, kinds: Sequence[ActionKind], actor: str
) -> tuple[Webhook, str]:
    """``checked`` comes from :func:`~takedown.actions.addresses.check_new`, done before the
    transaction (it may resolve a name)."""
    url = checked.url
    secret = "whsec_" + secrets.token_urlsafe(32)
    hook = Webhook(url=url, secret=secret, kinds=" ".join(k.value for k in kinds))
    session.add(hook)
    session.flush()
    record(
        session,
        actor,
        "webhook.create",
        f"webhook:{hook.id}",
        {"url": url, "kinds": [k.value for k in kinds]},
    )
    return hook, secret


def disable_webhook(session: Session, hook: Webhook, actor: str) -> None:
    hook.enabled = False
    record(session, actor, "webhook.disable", f"webhook:{hook.id}", {})
