"""What the console's case page shows beyond the case file: how the case began (a report, an
upload blocked or held at posting, a link to another site), each item's label and bank
matches, the copies the content index holds, the uploader's other items and earlier cases
(for the roles that may see who uploaded), a readable history (names, not ``user:1``; views
counted, not listed), and the next case to open.

Reads only; the console page decides what the viewer may see and passes it in.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from takedown.cases import machine
from takedown.cases.vocabulary import OPEN_STATES, CaseState, Priority, StaffRole
from takedown.service import cases as case_service
from takedown.service import claims
from takedown.service.cases import CaseItem, CopyFinder
from takedown.store.models import ApiKey, AuditEvent, Case, CaseContent, Content, User

QUIET_ACTIONS = frozenset({"case.view"})
"""History rows the page counts instead of listing (they stay in the audit log)."""


class Origin:
    """How a case began."""

    REPORTED = "reported"
    BLOCKED = "blocked"  # an upload matched a child-abuse block bank: nothing was published
    HELD = "held"  # an upload matched a hold bank: restricted at posting, for a person to see
    ELSEWHERE = "elsewhere"  # reports name only links that are not on this platform


@dataclass(frozen=True)
class ItemView:
    item: CaseItem
    label: str
    matches: list[dict[str, Any]]

    @property
    def content(self) -> Content:
        return self.item.content


@dataclass(frozen=True)
class CopyRow:
    """A content item the content index finds from the case's reported items."""

    content_id: str
    url: str
    signal_type: str
    distance: float
    status: str
    in_case: str  # "": not linked yet; else the link's status in this case


@dataclass(frozen=True)
class UploaderContext:
    uploader: str
    items: list[Content]
    cases: list[Case]


@dataclass(frozen=True)
class HistoryRow:
    at: str
    who: str
    action: str


@dataclass(frozen=True)
class History:
    rows: list[HistoryRow]
    views: list[tuple[str, int]] = field(default_factory=list)

    @property
    def view_count(self) -> int:
        return sum(n for _who, n in self.views)


def origin(case: Case, reports: Sequence[object], items: Sequence[CaseItem]) -> str:
    if reports:
        return Origin.ELSEWHERE if case.unresolved and not items else Origin.REPORTED
    verdicts = {i.content.verdict for i in items if i.link.role == "reported"}
    if "block" in verdicts:
        return Origin.BLOCKED
    return Origin.HELD


def item_label(item: CaseItem) -> str:
    """What happened to the item, in words: a blocked upload was never "reported"."""
    if item.link.role == "copy":
        return "copy"
    if item.content.verdict == "block":
        return "blocked at upload"
    if item.content.verdict == "hold":
        return "held at upload"
    return "reported"


def item_views(items: Sequence[CaseItem]) -> list[ItemView]:
    return [
        ItemView(
            item,
            item_label(item),
            [m for m in (item.content.matches or []) if isinstance(m, dict)],
        )
        for item in items
    ]


def reported_links(reports: Iterable[Any]) -> list[str]:
    """The links reporters gave, in the order received, each once."""
    seen: dict[str, None] = {}
    for report in reports:
        for url in (report.references or {}).get("urls", []) or []:
            seen.setdefault(str(url), None)
    return list(seen)


def copies(session: Session, case: Case, find: CopyFinder) -> list[CopyRow]:
    """Hits of the reported items' upload signals in the content index, nearest first; the
    reported items themselves are left out."""
    reported = set(case_service.reported_pks(session, case.id))
    hits = [h for h in find(session, case.id).hits if h.content_pk not in reported]
    if not hits:
        return []
    nearest: dict[int, tuple[float, str]] = {}
    for hit in hits:
        if hit.content_pk not in nearest or hit.distance < nearest[hit.content_pk][0]:
            nearest[hit.content_pk] = (hit.distance, hit.signal_type)
    contents = {
        c.id: c
        for c in session.execute(select(Content).where(Content.id.in_(list(nearest)))).scalars()
    }
    linked = dict(
        session.execute(
            select(CaseContent.content_pk, CaseContent.status).where(
                CaseContent.case_id == case.id, CaseContent.content_pk.in_(list(nearest))
            )
        ).all()
    )
    rows = [
        CopyRow(
            contents[pk].content_id,
            contents[pk].url,
            signal,
            distance,
            contents[pk].status,
            str(linked.get(pk, "")),
        )
        for pk, (distance, signal) in nearest.items()
        if pk in contents
    ]
    return sorted(rows, key=lambda r: (r.distance, r.content_id))


def uploader_context(
    session: Session, case: Case, items: Sequence[CaseItem], limit: int = 20
) -> list[UploaderContext]:
    """For each uploader of the case's reported items: their other items and the other cases
    those items are in. Personal data: the caller shows it only to the roles that may."""
    uploaders = sorted(
        {
            i.content.uploader_id
            for i in items
            if i.link.role == "reported" and i.content.uploader_id
        }
    )
    here = {i.content.id for i in items}
    out = []
    for uploader in uploaders:
        others = list(
            session.execute(
                select(Content)
                .where(Content.uploader_id == uploader, Content.id.not_in(here))
                .order_by(Content.registered_at.desc(), Content.id.desc())
                .limit(limit)
            ).scalars()
        )
        cases = list(
            session.execute(
                select(Case)
                .join(CaseContent, CaseContent.case_id == Case.id)
                .join(Content, Content.id == CaseContent.content_pk)
                .where(Content.uploader_id == uploader, Case.id != case.id)
                .distinct()
                .order_by(Case.id.desc())
                .limit(limit)
            ).scalars()
        )
        out.append(UploaderContext(uploader, others, cases))
    return out


def actor_names(session: Session, actors: Iterable[str]) -> dict[str, str]:
    """Who an audit actor is, in words: a staff member's email, an API key's name."""
    users = {int(a[5:]) for a in actors if a.startswith("user:") and a[5:].isdigit()}
    keys = {int(a[4:]) for a in actors if a.startswith("key:") and a[4:].isdigit()}
    names = {"system": "takedown", "public": "reporter (public form)"}
    if users:
        for uid, email in session.execute(select(User.id, User.email).where(User.id.in_(users))):
            names[f"user:{uid}"] = email
    if keys:
        for kid, name in session.execute(select(ApiKey.id, ApiKey.name).where(ApiKey.id.in_(keys))):
            names[f"key:{kid}"] = f"API key “{name}”"
    return names


def history(session: Session, events: Sequence[AuditEvent]) -> History:
    names = actor_names(session, {e.actor for e in events})
    rows = [
        HistoryRow(e.at[:19].replace("T", " "), names.get(e.actor, e.actor), e.action)
        for e in events
        if e.action not in QUIET_ACTIONS
    ]
    views = Counter(names.get(e.actor, e.actor) for e in events if e.action in QUIET_ACTIONS)
    return History(rows, sorted(views.items(), key=lambda kv: (-kv[1], kv[0])))


def reviewer_names(session: Session, ids: Iterable[int]) -> dict[int, str]:
    wanted = set(ids)
    if not wanted:
        return {}
    return dict(session.execute(select(User.id, User.email).where(User.id.in_(wanted))).all())


def is_open(case: Case) -> bool:
    """Whether a decision can still be taken on the case (an appeal is decided too)."""
    return CaseState(case.state) in OPEN_STATES


def next_case(
    session: Session, role: StaffRole, case: Case, user_id: int, now: datetime
) -> int | None:
    """The next case for this reviewer: first in this case's queue that is not this one and
    not held by someone else (the appeals list for an appeal)."""
    if case.state == CaseState.IN_APPEAL.value:
        candidates = [
            c
            for c in session.execute(
                select(Case).where(Case.state == CaseState.IN_APPEAL.value).order_by(Case.id)
            ).scalars()
            if machine.can_view(role, Priority(c.priority))
        ]
    else:
        candidates = [i.case for i in case_service.queue(session, role, case.queue)]
    for candidate in candidates:
        if candidate.id != case.id and claims.held_by_other(candidate, user_id, now) is None:
            return candidate.id
    return None
