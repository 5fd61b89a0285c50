"""The staff console: login (argon2, lock-out, CSRF), queues with live countdowns, the case page
(media blurred and grayscale until a reviewer reveals one item, each reveal audited), decisions
with statement-of-reasons templates and shortcuts, the dashboard."""

from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from takedown.api.errors import ApiError
from takedown.api.routes.cases import CONTACT_ROLES
from takedown.api.routes.cybertip import ncmec_client, reporter_settings
from takedown.api.state import AppState, app_state
from takedown.audit.log import record
from takedown.auth.accounts import check_totp
from takedown.auth.secrets import check_password
from takedown.cases import machine
from takedown.cases.machine import Refused, Reviewer
from takedown.cases.vocabulary import AppealOutcome, Category, Outcome, Priority, StaffRole
from takedown.legal.ncmec import NcmecError
from takedown.legal.transparency import to_csv
from takedown.service import cases as case_service
from takedown.service import cybertip
from takedown.service.copies import copies_in
from takedown.service.transparency import transparency
from takedown.store.models import (
    Case,
    CaseClock,
    CaseContent,
    Content,
    CyberTipReport,
    Report,
    User,
    utcnow,
)
from takedown.web import media as review_media
from takedown.web.charts import ClockFigures, count_bars, duration_histogram
from takedown.web.session import FORM_COOKIE, StaffSession, same
from takedown.web.templating import _, render, templates

router = APIRouter(prefix="/console", include_in_schema=False)

QUEUES = [
    ("child_safety", _("Child safety")),
    ("ncii", _("Intimate images")),
    ("general", _("General")),
    ("senior", _("Escalated")),
    ("appeals", _("Appeals")),
]
REASON_TEMPLATES = [
    ("", _("Write your own")),
    ("csam", _("Sexual content involving a minor; removed with every copy and reported.")),
    ("ncii", _("Intimate image shared without the consent of the person shown.")),
    ("not_sexual", _("The content is not sexual and shows no one harmed.")),
    ("adult_consensual", _("Adult content with no sign that consent is missing.")),
]


class Staff:
    def __init__(self, user: User, session: StaffSession) -> None:
        self.user = user
        self.session = session
        self.role = StaffRole(user.role)
        self.reviewer = Reviewer(user.id, self.role)

    @property
    def actor(self) -> str:
        return f"user:{self.user.id}"


def _staff(request: Request) -> Staff | None:
    state = app_state(request)
    session = state.sessions.load(request)
    if session is None:
        return None
    with state.db.read() as db:
        user = db.get(User, session.user_id)
    if user is None or user.disabled or user.session_epoch != session.epoch:
        return None
    return Staff(user, session)


def _login_redirect() -> Response:
    return RedirectResponse("/console/login", status_code=303)


def _forbidden(request: Request, staff: Staff | None, message: str) -> Response:
    return render(
        request, "console/error.html", {"staff": staff, "code": 403, "message": message}, 403
    )


async def _checked_form(request: Request, staff: Staff) -> dict[str, str] | None:
    form = await request.form()
    values = {k: str(v) for k, v in form.items() if isinstance(v, str)}
    return values if same(values.get("csrf_token"), staff.session.csrf) else None


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request) -> Response:
    sessions = app_state(request).sessions
    token = sessions.form_token(request)
    response = render(request, "console/login.html", {"csrf": token, "error": ""})
    sessions.keep_form_token(request, response, token)
    return response


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request) -> Response:
    state = app_state(request)
    form = await request.form()
    values = {k: str(v) for k, v in form.items() if isinstance(v, str)}
    token = state.sessions.form_token(request)
    if not same(values.get("csrf_token"), request.cookies.get(FORM_COOKIE)):
        return render(
            request,
            "console/login.html",
            {"csrf": token, "error": _("The form expired; please sign in again.")},
            403,
        )
    email = values.get("email", "").strip().lower()
    password = values.get("password", "")
    now = state.now()
    refused = _("Wrong email or password, or the account is locked for a while.")
    with state.db.write() as db:
        user = db.execute(select(User).where(User.email == email)).scalar_one_or_none()
        if user is None or user.disabled:
            check_password("$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$invalid", password)
            return render(request, "console/login.html", {"csrf": token, "error": refused}, 401)
        if user.locked_until is not None and user.locked_until > now:
            record(db, f"user:{user.id}", "login.refused_locked", f"user:{user.id}", {})
            return render(request, "console/login.html", {"csrf": token, "error": refused}, 401)
        if not check_password(user.password_hash, password) or not check_totp(
            user, values.get("code", "")
        ):
            user.failed_logins += 1
            if user.failed_logins >= state.settings.login_max_failures:
                user.locked_until = now + timedelta(seconds=state.settings.login_lockout_s)
                user.failed_logins = 0
                record(db, f"user:{user.id}", "login.locked", f"user:{user.id}", {})
            else:
                record(db, f"user:{user.id}", "login.failed", f"user:{user.id}", {})
            return render(request, "console/login.html", {"csrf": token, "error": refused}, 401)
        user.failed_logins = 0
        user.locked_until = None
        record(db, f"user:{user.id}", "login", f"user:{user.id}", {})
        user_id, epoch = user.id, user.session_epoch
    response = RedirectResponse("/console", status_code=303)
    state.sessions.issue(request, response, user_id, epoch)
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    """Sign out everywhere: the user's epoch moves on, so every session of theirs ends, on
    every device, and a copied cookie is worth nothing."""
    staff = _staff(request)
    response = _login_redirect()
    if staff is not None and await _checked_form(request, staff) is not None:
        state = app_state(request)
        with state.db.write() as db:
            user = db.get(User, staff.user.id)
            assert user is not None
            user.session_epoch += 1
            record(db, staff.actor, "logout", f"user:{user.id}", {"everywhere": True})
        state.sessions.clear(response)
    return response


def _queue_items(db: Session, staff: Staff, queue: str) -> list[dict[str, Any]]:
    if queue == "appeals":
        visible = [p.value for p in Priority if machine.can_view(staff.role, p)]
        cases = db.execute(
            select(Case).where(Case.state == "in_appeal", Case.priority.in_(visible))
        ).scalars()
        return [{"case": c, "next_due": None, "breached": False} for c in cases]
    return [
        {"case": item.case, "next_due": item.next_due, "breached": item.breached}
        for item in case_service.queue(db, staff.role, queue)
    ]


@router.get("", response_class=HTMLResponse)
def queues(request: Request, queue: str = "child_safety") -> Response:
    staff = _staff(request)
    if staff is None:
        return _login_redirect()
    if queue not in {q for q, _label in QUEUES}:
        queue = "child_safety"
    with app_state(request).db.read() as db:
        items = _queue_items(db, staff, queue)
    return render(
        request,
        "console/queues.html",
        {"staff": staff, "queues": QUEUES, "queue": queue, "items": items},
    )


def _case_context(state: AppState, db: Session, case: Case, staff: Staff) -> dict[str, Any]:
    found = case_service.case_file(db, case)
    return {
        "case": found.case,
        "reports": found.reports,
        "items": found.items,
        "clocks": found.clocks,
        "decisions": found.decisions,
        "appeals": found.appeals,
        "history": found.history,
        "show_contact": staff.role in CONTACT_ROLES,
        "media_enabled": bool(state.settings.media_url_template),
    }


@router.get("/cases/{case_id}", response_class=HTMLResponse)
def caserender(request: Request, case_id: int, revealed: str = "", error: str = "") -> Response:
    staff = _staff(request)
    if staff is None:
        return _login_redirect()
    state = app_state(request)
    with state.db.write() as db:
        case = db.get(Case, case_id)
        if case is None:
            return render(
                request,
                "console/error.html",
                {"staff": staff, "code": 404, "message": _("No such case.")},
                404,
            )
        if not machine.can_view(staff.role, Priority(case.priority)):
            record(db, staff.actor, "case.view_refused", f"case:{case.id}", {})
            return _forbidden(
                request, staff, _("This case involves a child; only child-safety staff open it.")
            )
        record(db, staff.actor, "case.view", f"case:{case.id}", {})
        context = _case_context(state, db, case, staff)
    wellness = {"blur": 24, "grayscale": True, "autoplay": False, **(staff.user.wellness or {})}
    return render(
        request,
        "console/case.html",
        {
            "staff": staff,
            "revealed": revealed,
            "error": error,
            "wellness": wellness,
            "reasons": REASON_TEMPLATES,
            "categories": [c.value for c in Category],
            "can_decide": staff.role
            in {
                StaffRole.REVIEWER,
                StaffRole.SENIOR_REVIEWER,
                StaffRole.CHILD_SAFETY_SPECIALIST,
                StaffRole.ADMIN,
            },
            **context,
        },
    )


def _content_in_visible_case(db: Session, content_id: str, staff: Staff) -> Content | None:
    rows = db.execute(
        select(Content, Case)
        .join(CaseContent, CaseContent.content_pk == Content.id)
        .join(Case, Case.id == CaseContent.case_id)
        .where(Content.content_id == content_id)
    ).all()
    for content, case in rows:
        if machine.can_view(staff.role, Priority(case.priority)):
            found: Content = content
            return found
    return None


@router.post("/cases/{case_id}/reveal/{content_id}")
async def reveal(request: Request, case_id: int, content_id: str) -> Response:
    """Show one item unblurred: an audit event, then the case page with that item revealed."""
    staff = _staff(request)
    if staff is None:
        return _login_redirect()
    if await _checked_form(request, staff) is None:
        return _forbidden(request, staff, _("The form expired; reload the page."))
    with app_state(request).db.write() as db:
        if _content_in_visible_case(db, content_id, staff) is None:
            return _forbidden(request, staff, _("You may not see this item."))
        record(db, staff.actor, "media.reveal", f"case:{case_id}", {"content": content_id})
    return RedirectResponse(
        f"/console/cases/{case_id}?revealed={content_id}#item-{content_id}", status_code=303
    )


@router.get("/media/{content_id}")
def media(request: Request, content_id: str) -> Response:
    """An item's bytes for review (evidence store, or the platform); every view audited."""
    staff = _staff(request)
    if staff is None:
        return Response(status_code=401)
    state = app_state(request)
    with state.db.write() as db:
        if _content_in_visible_case(db, content_id, staff) is None:
            return Response(status_code=403)
        record(db, staff.actor, "media.view", f"content:{content_id}", {})
    found = review_media.review_media(state.settings, state.evidence, content_id)
    if found is None:
        return Response(status_code=404)
    return Response(
        found.data,
        media_type=found.mime,
        headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
    )


@router.post("/cases/{case_id}/decide")
async def decide(request: Request, case_id: int) -> Response:
    staff = _staff(request)
    if staff is None:
        return _login_redirect()
    values = await _checked_form(request, staff)
    if values is None:
        return _forbidden(request, staff, _("The form expired; reload the page."))
    state = app_state(request)
    template = dict(REASON_TEMPLATES).get(values.get("template", ""), "")
    note = (values.get("note", "").strip() or template)[:5000]
    try:
        with state.db.write() as db:
            case = db.get(Case, case_id)
            if case is None or not machine.can_view(staff.role, Priority(case.priority)):
                return _forbidden(request, staff, _("You may not decide this case."))
            if values.get("kind") == "appeal":
                case_service.decide_appeal(
                    db,
                    case_id,
                    staff.reviewer,
                    AppealOutcome(values.get("outcome", "")),
                    note=note,
                    find_copies=copies_in(state.index),
                    policy=state.policy,
                    now=state.now(),
                )
            else:
                outcome = Outcome(values.get("outcome", ""))
                category = values.get("category") or None
                case_service.decide(
                    db,
                    case_id,
                    staff.reviewer,
                    outcome,
                    category=Category(category) if category else None,
                    note=note,
                    find_copies=copies_in(state.index),
                    policy=state.policy,
                    now=state.now(),
                )
    except Refused as refused:
        return RedirectResponse(f"/console/cases/{case_id}?error={refused.code}", status_code=303)
    except ValueError:
        return RedirectResponse(f"/console/cases/{case_id}?error=invalid_outcome", status_code=303)
    state.wake.set()
    return RedirectResponse(f"/console/cases/{case_id}", status_code=303)


@router.post("/settings")
async def wellness_settings(request: Request) -> Response:
    """Per-reviewer wellness settings: blur strength, grayscale, video autoplay."""
    staff = _staff(request)
    if staff is None:
        return _login_redirect()
    values = await _checked_form(request, staff)
    if values is None:
        return _forbidden(request, staff, _("The form expired; reload the page."))
    try:
        blur = max(0, min(64, int(values.get("blur", "24"))))
    except ValueError:
        blur = 24
    with app_state(request).db.write() as db:
        user = db.get(User, staff.user.id)
        assert user is not None
        user.wellness = {
            "blur": blur,
            "grayscale": values.get("grayscale") == "on",
            "autoplay": values.get("autoplay") == "on",
        }
    return RedirectResponse(values.get("back", "/console") or "/console", status_code=303)


@router.get("/dashboard", response_class=HTMLResponse)
def dashboard(request: Request, days: int = 30) -> Response:
    staff = _staff(request)
    if staff is None:
        return _login_redirect()
    state = app_state(request)
    days = max(1, min(days, 3650))
    since = utcnow() - timedelta(days=days)
    with state.db.read() as db:
        clocks = list(db.execute(select(CaseClock).where(CaseClock.started_at >= since)).scalars())
        cases = list(db.execute(select(Case).where(Case.created_at >= since)).scalars())
        reports = list(db.execute(select(Report).where(Report.created_at >= since)).scalars())
    figures = []
    for kind, label in (
        ("restrict", _("Time to restrict")),
        ("first_review", _("Time to first review")),
        ("removal", _("Time to removal")),
    ):
        mine = [c for c in clocks if c.kind == kind]
        durations = tuple(
            (c.met_at - c.started_at).total_seconds() for c in mine if c.met_at is not None
        )
        deadlines = [(c.due_at - c.started_at).total_seconds() for c in mine]
        fig = ClockFigures(
            kind,
            durations,
            max(deadlines) if deadlines else 1.0,
            sum(1 for c in mine if c.breached_at is not None),
            sum(1 for c in mine if c.met_at is None and c.breached_at is None),
        )
        figures.append({"label": label, "figures": fig, "svg": duration_histogram(fig)})
    by_category = Counter(c.category for c in cases)
    by_source = Counter(
        "trusted flagger" if r.trusted_flagger else r.relationship.replace("_", " ")
        for r in reports
    )
    return render(
        request,
        "console/dashboard.html",
        {
            "staff": staff,
            "days": days,
            "figures": figures,
            "categories_svg": count_bars(dict(by_category)),
            "sources_svg": count_bars(dict(by_source)),
            "case_count": len(cases),
            "report_count": len(reports),
        },
    )


def due_epoch(moment: datetime | None) -> float | None:
    return moment.timestamp() if moment else None


templates.env.filters["epoch"] = due_epoch


@router.get("/transparency", response_class=HTMLResponse)
def transparencyrender(request: Request, start: str = "", end: str = "") -> Response:
    """The transparency report for a period (default: the last 30 days)."""
    staff = _staff(request)
    if staff is None:
        return _login_redirect()
    now = utcnow()
    try:
        first = (
            datetime.fromisoformat(start).replace(tzinfo=now.tzinfo)
            if start
            else now - timedelta(days=30)
        )
        last = (
            datetime.fromisoformat(end).replace(tzinfo=now.tzinfo) + timedelta(days=1)
            if end
            else now
        )
    except ValueError:
        first, last = now - timedelta(days=30), now
    report = transparency(app_state(request).db, first, last)
    return render(
        request,
        "console/transparency.html",
        {
            "staff": staff,
            "report": report,
            "rows": list(csv.reader(io.StringIO(to_csv(report))))[1:],
        },
    )


@router.get("/cybertipline", response_class=HTMLResponse)
def cybertiplinerender(request: Request, error: str = "") -> Response:
    """The CyberTipline queue: drafts from confirmed child-abuse cases; legal staff approve and
    file them (with the clock's due time shown)."""
    staff = _staff(request)
    if staff is None:
        return _login_redirect()
    if staff.role not in (StaffRole.LEGAL, StaffRole.CHILD_SAFETY_SPECIALIST):
        return _forbidden(request, staff, _("The CyberTipline queue is for legal staff."))
    with app_state(request).db.read() as db:
        tips = list(db.execute(select(CyberTipReport).order_by(CyberTipReport.id)).scalars())
    context = {"staff": staff, "tips": tips, "error": error}
    return render(request, "console/cybertipline.html", context)


@router.post("/cybertipline/{tip_id}/approve")
async def approve_tip(request: Request, tip_id: int) -> Response:
    staff = _staff(request)
    if staff is None:
        return _login_redirect()
    if await _checked_form(request, staff) is None or staff.role is not StaffRole.LEGAL:
        return _forbidden(request, staff, _("Only legal staff approve CyberTipline reports."))
    state = app_state(request)
    try:
        with state.db.write() as db:
            cybertip.approve(db, tip_id, staff.user.id, state.now())
        client = ncmec_client(state)
        try:
            cybertip.file_report(
                state.db, client, state.evidence, reporter_settings(state), tip_id, state.now()
            )
        finally:
            client.close()
    except (cybertip.TipRefused, NcmecError, ApiError, ValueError) as problem:
        message = problem.message if isinstance(problem, ApiError) else str(problem)
        return RedirectResponse(
            f"/console/cybertipline?error={quote(message[:300])}", status_code=303
        )
    return RedirectResponse("/console/cybertipline", status_code=303)
