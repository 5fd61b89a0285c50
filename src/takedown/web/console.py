"""The staff console: login (argon2, lock-out, CSRF), queues with live countdowns, the case page
(media blurred and grayscale until a reviewer reveals one item, each reveal audited), decisions
with statement-of-reasons templates and shortcuts, the dashboard."""

from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from takedown.actions.figures import delivery_figures
from takedown.api.clients import request_client
from takedown.api.errors import ApiError
from takedown.api.routes.cybertip import ncmec_client, reporter_settings
from takedown.api.state import AppState, app_state, client_group
from takedown.audit.log import SYSTEM, record
from takedown.auth import access, throttle
from takedown.auth.access import Resource
from takedown.auth.accounts import check_totp, create_user_token
from takedown.auth.scopes import Role
from takedown.auth.secrets import verify_login
from takedown.cases import machine
from takedown.cases.machine import Refused, Reviewer
from takedown.cases.vocabulary import (
    DECIDING_ROLES,
    AppealOutcome,
    Category,
    Outcome,
    Priority,
    StaffRole,
)
from takedown.legal.ncmec import NcmecError
from takedown.legal.transparency import to_csv
from takedown.service import cases as case_service
from takedown.service import cybertip
from takedown.service.access import may_see_media
from takedown.service.copies import copies_in
from takedown.service.transparency import transparency
from takedown.store.models import (
    Case,
    CaseClock,
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

    def may(self, resource: str) -> bool:
        """For the pages: what ``auth.access`` lets this person reach (links and buttons)."""
        return access.allowed(self.access_role, Resource(resource))

    @property
    def access_role(self) -> Role:
        """The role as the access rules (``auth.access``) name it: the API asks the same."""
        return Role(self.role.value)


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
    """Sign in. Every attempt costs one argon2 check, whether or not the email has an account
    (a random password's hash stands in), so timing tells nothing; lock-outs are per account
    and address, per address, and per account (``auth.throttle``)."""
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
    keys = throttle.Keys.of(state.secret, email, client_group(request_client(request)))
    limits = throttle.Limits.of(state.settings)
    with state.db.write() as db:
        user = db.execute(select(User).where(User.email == email)).scalar_one_or_none()
        attempt = throttle.begin(db, keys, now, limits)
        for scope in attempt.locked:  # an address is no one's; an unknown email has no trail
            if scope is throttle.Scope.SOURCE:
                record(db, SYSTEM, "login.locked", "login", {"by": scope.value})
            elif user is not None:
                record(db, SYSTEM, "login.locked", f"user:{user.id}", {"by": scope.value})
    usable = user is not None and not user.disabled and attempt.refused is None
    # the slow check runs outside any transaction (its failure is counted already)
    right = await run_in_threadpool(
        verify_login, user.password_hash if usable and user else None, password
    )
    if not (usable and right and user and check_totp(user, values.get("code", ""))):
        if user is not None:
            action = "login.failed" if attempt.refused is None else "login.refused_locked"
            with state.db.write() as db:
                record(db, f"user:{user.id}", action, f"user:{user.id}", {})
        return render(request, "console/login.html", {"csrf": token, "error": refused}, 401)
    with state.db.write() as db:
        throttle.succeeded(db, attempt, now)
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
        "questions": found.questions,
        "items": found.items,
        "clocks": found.clocks,
        "decisions": found.decisions,
        "appeals": found.appeals,
        "history": found.history,
        "show_contact": access.allowed(staff.access_role, Resource.REPORTER_CONTACT),
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
        shown = state.sessions.revealed(staff.session, revealed, case.id)
        if shown is not None and not may_see_media(db, staff.access_role, shown, case.id):
            shown = None
    wellness = {"blur": 24, "grayscale": True, "autoplay": False, **(staff.user.wellness or {})}
    return render(
        request,
        "console/case.html",
        {
            "staff": staff,
            "revealed": shown,
            "error": error,
            "wellness": wellness,
            "reasons": REASON_TEMPLATES,
            "categories": [c.value for c in Category],
            "can_decide": staff.role in DECIDING_ROLES,
            **context,
        },
    )


@router.post("/cases/{case_id}/reveal/{content_id}")
async def reveal(request: Request, case_id: int, content_id: str) -> Response:
    """Show one item unblurred: an audit event, then the case page with that item revealed."""
    staff = _staff(request)
    if staff is None:
        return _login_redirect()
    if await _checked_form(request, staff) is None:
        return _forbidden(request, staff, _("The form expired; reload the page."))
    state = app_state(request)
    with state.db.write() as db:
        if not may_see_media(db, staff.access_role, content_id, case_id):
            return _forbidden(request, staff, _("You may not see this item."))
        record(db, staff.actor, "media.reveal", f"case:{case_id}", {"content": content_id})
    ticket = state.sessions.reveal_ticket(staff.session, case_id, content_id)
    query = urlencode({"revealed": ticket})
    return RedirectResponse(
        f"/console/cases/{case_id}?{query}#item-{quote(content_id, safe='')}", status_code=303
    )


@router.get("/media/{content_id}")
def media(request: Request, content_id: str) -> Response:
    """An item's bytes for review (evidence store, or the platform); every view audited."""
    staff = _staff(request)
    if staff is None:
        return Response(status_code=401)
    state = app_state(request)
    with state.db.write() as db:
        if not may_see_media(db, staff.access_role, content_id):
            record(db, staff.actor, "media.view_refused", f"content:{content_id}", {})
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
    if staff.role not in DECIDING_ROLES:  # the API's cases:decide scope, by the same roles
        return _forbidden(request, staff, _("Your role does not decide cases."))
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
                    find_copies=copies_in(state.index, state.evidence),
                    policy=state.policy,
                    now=state.now(),
                )
            else:
                outcome = Outcome(values.get("outcome", ""))
                category = values.get("category") or None
                asking = outcome is Outcome.NEED_MORE_INFO
                case_service.decide(
                    db,
                    case_id,
                    staff.reviewer,
                    outcome,
                    category=Category(category) if category else None,
                    note=note,
                    find_copies=copies_in(state.index, state.evidence),
                    policy=state.policy,
                    now=state.now(),
                    ask=(values.get("report_id") or None) if asking else None,
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
    return RedirectResponse(local_console_path(values.get("back", "")), status_code=303)


@router.get("/token", response_class=HTMLResponse)
def token_page(request: Request) -> Response:
    """Where a person takes their own API token (the API mints none for anybody)."""
    staff = _staff(request)
    if staff is None:
        return _login_redirect()
    return render(request, "console/token.html", {"staff": staff, "secret": ""})


@router.post("/token", response_class=HTMLResponse)
async def create_own_token(request: Request) -> Response:
    """A token for the signed-in person, with their role's scopes; shown once, audited. The
    password (and second factor) is asked again: a token outlives the session, so a borrowed
    or stolen session must not turn into lasting API access."""
    staff = _staff(request)
    if staff is None:
        return _login_redirect()
    values = await _checked_form(request, staff)
    if values is None:
        return _forbidden(request, staff, _("The form expired; reload the page."))
    right = await run_in_threadpool(
        verify_login, staff.user.password_hash, values.get("password", "")
    )
    if not (right and check_totp(staff.user, values.get("code", ""))):
        with app_state(request).db.write() as db:
            record(db, staff.actor, "user.token_refused", f"user:{staff.user.id}", {})
        context = {"staff": staff, "secret": "", "error": _("Wrong password or code.")}
        return render(request, "console/token.html", context, 403)
    with app_state(request).db.write() as db:
        _row, secret = create_user_token(db, staff.user.email, actor=staff.actor)
    return render(request, "console/token.html", {"staff": staff, "secret": secret})


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
        delivery = delivery_figures(db, since, utcnow())
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
            "delivery": delivery,
        },
    )


def local_console_path(back: str) -> str:
    """Where a form may send the person back to: a console page of this site, never another
    site (``//evil.example``, ``/\\evil.example``, ``https://...``)."""
    parts = urlsplit(back)
    path = parts.path
    if (
        parts.scheme
        or parts.netloc
        or not (path == "/console" or path.startswith("/console/"))
        or "\\" in back
        or any(ord(ch) < 0x20 for ch in back)
    ):
        return "/console"
    return path + (f"?{parts.query}" if parts.query else "")


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
    if not access.allowed(staff.access_role, Resource.CYBERTIP_VIEW):
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
    if await _checked_form(request, staff) is None or not access.allowed(
        staff.access_role, Resource.CYBERTIP_FILE
    ):
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
