"""The facts the access rules need, read from the database: which cases an item belongs to."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from takedown.auth import access
from takedown.auth.scopes import Role
from takedown.store.models import Case, CaseContent, Content


def case_priorities(session: Session, content_id: str, case_id: int | None = None) -> list[str]:
    """The priorities of the cases that hold the item (only ``case_id`` when given)."""
    query = (
        select(Case.priority)
        .join(CaseContent, CaseContent.case_id == Case.id)
        .join(Content, Content.id == CaseContent.content_pk)
        .where(Content.content_id == content_id)
    )
    if case_id is not None:
        query = query.where(Case.id == case_id)
    return list(session.execute(query).scalars())


def may_see_media(
    session: Session, role: Role | None, content_id: str, case_id: int | None = None
) -> bool:
    """The one rule for an item's bytes (API evidence route and console media alike)."""
    return access.may_see_media(role, case_priorities(session, content_id, case_id))
