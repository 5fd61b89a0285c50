"""The transactional outbox: an action and its pending deliveries are written in the caller's
transaction, so that a decision and what it causes commit together or not at all."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from takedown.actions.kinds import ActionKind
from takedown.store.db import serialize
from takedown.store.models import Action, Delivery, Webhook


def emit(
    session: Session,
    kind: ActionKind,
    *,
    content_id: str | None = None,
    case_id: str | None = None,
    reason: str = "",
    data: Mapping[str, Any] | None = None,
) -> Action:
    """Write an action (ids in commit order, for ``GET /v1/actions?after=``) and one delivery
    per enabled webhook that wants this kind."""
    serialize(session)
    action = Action(
        key=uuid.uuid4().hex,
        kind=kind.value,
        content_id=content_id,
        case_id=case_id,
        reason=reason,
        data=dict(data or {}),
    )
    session.add(action)
    session.flush()
    hooks = session.execute(select(Webhook).where(Webhook.enabled.is_(True))).scalars()
    for hook in hooks:
        if not hook.kinds or kind.value in hook.kinds.split():
            session.add(Delivery(action_id=action.id, webhook_id=hook.id))
    return action


def payload(action: Action) -> dict[str, Any]:
    """What a platform receives for an action, by webhook and by ``GET /v1/actions``."""
    return {
        "cursor": action.id,
        "idempotency_key": action.key,
        "action": action.kind,
        "content_id": action.content_id,
        "case_id": action.case_id,
        "reason": action.reason,
        "data": action.data,
        "created_at": action.created_at.isoformat(),
    }


def body(action: Action) -> bytes:
    """The webhook body: the same bytes on every retry (sorted keys, no whitespace)."""
    return json.dumps(payload(action), sort_keys=True, separators=(",", ":")).encode("utf-8")


def after(session: Session, cursor: int, limit: int) -> list[Action]:
    query = select(Action).where(Action.id > cursor).order_by(Action.id).limit(limit)
    return list(session.execute(query).scalars())
