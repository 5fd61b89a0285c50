"""The staff console: login (argon2, lock-out, CSRF), queues with live countdowns, the case page
(media blurred and grayscale until a reviewer reveals one item, each reveal audited), decisions
with statement-of-reasons templates and shortcuts, the dashboard."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from fastapi import APIRouter, Depends, Request
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
from takedown.auth.secrets import verify_login
from takedown.cases import machine
from takedown.cases.clocks import ClockKind
from takedown.cases.clocks import applies as clock_applies
from takedown.cases.labels import label
from takedown.cases.machine import Refused
from takedown.cases.vocabulary import (
    DECIDING_ROLES,
    OPEN_STATES,
    AppealOutcome,
    Category,
    Outcome,
    Priority,
)
from takedown.legal.ncmec import NcmecError
from takedown.legal.transparency import Figures, bars_svg, sections, to_csv
from takedown.legal.transparency_pdf import to_pdf
from takedown.media import MediaLimits
from takedown.service import cases as case_service
from takedown.service import claims, cybertip
from takedown.service.access import may_see_media
from takedown.service.copies import copies_in
from takedown.service.retro_scan import recent_scans
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
from takedown.web import casepage
from takedown.web import media as review_media
from takedown.web.charts import ClockFigures, count_bars, duration_histogram
from takedown.web.keyframes import keyframe_strip
from takedown.web.session import FORM_COOKIE, same
from takedown.web.staff import (
    Staff,
    StaffForm,
    checked_form,
    forbidden,
    form_values,
    login_redirect,
    signed_in,
    staff_form,
    staff_form_of,
)
from takedown.web.templating import _, render, templates

router = APIRouter(prefix="/console", include_in_schema=False)

deciding_form = staff_form_of(
    lambda staff: staff.role in DECIDING_ROLES,  # the API's cases:decide scope, by the same roles
    _("Your role does not decide cases."),
)
"""The gate of the forms that decide or claim cases."""

QUEUES = [
    ("child_safety", _("Child safety")),
    ("ncii", _("Intimate images")),
    ("general", _("General")),
    ("senior", _("Escalated")),
    ("appeals", _("Appeals")),
]
DECIDED_WORDS = frozenset(o.value for o in Outcome) | frozenset(o.value for o in AppealOutcome)
REASON_TEMPLATES = [
    ("", _("Write your own")),
    ("csam", _("Sexual content involving a minor; removed with every copy and reported.")),
    ("ncii", _("Intimate image shared without the consent of the person shown.")),
    ("not_sexual", _("The content is not sexual and shows no one harmed.")),
    ("adult_consensual", _("Adult content with no sign that consent is missing.")),
]


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request) -> Response:
    sessions = app_state(request).sessions
    token = sessions.form_token(request)
    response = render(request, "console/login.html", {"csrf": token, "error": ""})
    sessions.keep_form_token(request, response, token)
    return response


@router.post("/login", response_class=HTMLResponse)
def login(request: Request, values: dict[str, str] = Depends(form_values)) -> Response:
    """Sign in. Every attempt costs one argon2 check, whether or not the email has an account
    (a random password's hash stands in), so timing tells nothing; lock-outs are per account
    and address, per address, and per account (``auth.throttle``)."""
    state = app_state(request)
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
    right = verify_login(user.password_hash if usable and user else None, password)
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
def logout(request: Request, values: dict[str, str] = Depends(form_values)) -> Response:
    """Sign out everywhere: the user's epoch moves on, so every session of theirs ends, on
    every device, and a copied cookie is worth nothing."""
    staff = signed_in(request)
    response = login_redirect()
    if staff is not None and checked_form(staff, values) is not None:
        state = app_state(request)
        with state.db.write() as db:
            user = db.get(User, staff.user.id)
            assert user is not None
            user.session_epoch += 1
            record(db, staff.actor, "logout", f"user:{user.id}", {"everywhere": True})
        state.sessions.clear(response)
    return response


@dataclass(frozen=True)
class QueueFilters:
    """The queue page's filters (query parameters); unknown values mean "any"."""

    category: str = ""
    state: str = ""
    only: str = ""  # "breached" | "unclaimed" | "mine"

    @classmethod
    def of(cls, category: str, state: str, only: str) -> QueueFilters:
        return cls(
            category if category in {c.value for c in Category} else "",
            state if state in {s.value for s in OPEN_STATES} else "",
            only if only in ("breached", "unclaimed", "mine") else "",
        )

    def keep(self, item: dict[str, Any], user_id: int, now: datetime) -> bool:
        case: Case = item["case"]
        holder = claims.holder(case, now)
        return (
            (not self.category or case.category == self.category)
            and (not self.state or case.state == self.state)
            and (self.only != "breached" or item["breached"])
            and (self.only != "unclaimed" or holder is None)
            and (self.only != "mine" or (holder is not None and holder.user_id == user_id))
        )


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


def _thumbnails(db: Session, staff: Staff, cases: list[Case]) -> dict[int, dict[str, str]]:
    """The first item of each case, for a blurred thumbnail, where the viewer may see it."""
    if not cases:
        return {}
    rows = db.execute(
        select(CaseContent.case_id, Content.content_id, Content.kind)
        .join(Content, Content.id == CaseContent.content_pk)
        .where(CaseContent.case_id.in_([c.id for c in cases]), CaseContent.role == "reported")
        .order_by(CaseContent.id)
    ).all()
    firsts: dict[int, dict[str, str]] = {}
    for case_id, content_id, kind in rows:
        firsts.setdefault(case_id, {"content_id": content_id, "kind": kind})
    priorities = {c.id: c.priority for c in cases}
    return {
        case_id: item
        for case_id, item in firsts.items()
        if access.may_see_media(staff.access_role, [priorities[case_id]])
    }


@router.get("", response_class=HTMLResponse)
def queues(
    request: Request,
    queue: str = "child_safety",
    category: str = "",
    state: str = "",
    only: str = "",
) -> Response:
    staff = signed_in(request)
    if staff is None:
        return login_redirect()
    if queue not in {q for q, _label in QUEUES}:
        queue = "child_safety"
    filters = QueueFilters.of(category, state, only)
    app = app_state(request)
    now = app.now()
    with app.db.read() as db:
        counts = {name: len(_queue_items(db, staff, name)) for name, _label in QUEUES}
        everything = _queue_items(db, staff, queue)
        items = [i for i in everything if filters.keep(i, staff.user.id, now)]
        thumbs = _thumbnails(db, staff, [i["case"] for i in items])
        holders = {i["case"].id: claims.holder(i["case"], now) for i in items}
        names = casepage.reviewer_names(db, [h.user_id for h in holders.values() if h])
    wellness = staff.wellness
    return render(
        request,
        "console/queues.html",
        {
            "staff": staff,
            "queues": QUEUES,
            "queue": queue,
            "items": items,
            "total": len(everything),
            "counts": counts,
            "filters": filters,
            "thumbs": thumbs,
            "holders": holders,
            "names": names,
            "now": now,
            "wellness": wellness,
            "viewing": {c.value: viewing_for(wellness, c.value) for c in Category},
            "categories": [c.value for c in Category],
            "states": sorted(s.value for s in OPEN_STATES),
            "media_enabled": bool(app.settings.media_url_template),
        },
    )


def viewing_for(wellness: dict[str, Any], category: str) -> dict[str, Any]:
    """Blur and grayscale for a case of ``category``: the reviewer's setting for that category
    where they made one, else their general one."""
    own = (wellness.get("categories") or {}).get(category) or {}
    return {
        "blur": int(own.get("blur", wellness["blur"])),
        "grayscale": bool(own.get("grayscale", wellness["grayscale"])),
    }


def _case_context(state: AppState, db: Session, case: Case, staff: Staff) -> dict[str, Any]:
    found = case_service.case_file(db, case)
    begun = casepage.origin(case, found.reports, found.items)
    items = casepage.item_views(found.items)
    sees_uploader = access.allowed(staff.access_role, Resource.EVIDENCE_RECORD)
    now = state.now()
    holder = claims.holder(case, now)
    names = casepage.reviewer_names(
        db, [d.reviewer_id for d in found.decisions] + ([holder.user_id] if holder else [])
    )
    return {
        "case": found.case,
        "reports": found.reports,
        "questions": found.questions,
        "items": items,
        "origin": begun,
        "links": casepage.reported_links(found.reports),
        "copies": casepage.copies(db, case, copies_in(state.index)),
        "uploaders": casepage.uploader_context(db, case, found.items) if sees_uploader else None,
        "clocks": found.clocks,
        "decisions": found.decisions,
        "names": names,
        "appeals": found.appeals,
        "history": casepage.history(db, found.history),
        "claim": holder,
        "next_case": casepage.next_case(db, staff.role, case, staff.user.id, now),
        "is_open": casepage.is_open(case),
        "show_contact": access.allowed(staff.access_role, Resource.REPORTER_CONTACT),
        "media_enabled": bool(state.settings.media_url_template),
    }


def _frames(state: AppState, items: list[casepage.ItemView]) -> dict[str, int]:
    """How many keyframes each video item's strip has (decoded once, then kept)."""
    counts: dict[str, int] = {}
    for view in items:
        if view.content.kind != "video" or not state.settings.media_url_template:
            continue
        found = review_media.review_media(state.settings, state.evidence, view.content.content_id)
        if found is not None and found.is_video:
            counts[view.content.content_id] = len(keyframe_strip(found.data, _limits(state)))
    return counts


def _limits(state: AppState) -> MediaLimits:
    return MediaLimits(max_bytes=state.settings.max_upload_bytes)


@router.get("/cases/{case_id}", response_class=HTMLResponse)
def caserender(
    request: Request, case_id: int, revealed: str = "", error: str = "", decided: str = ""
) -> Response:
    staff = signed_in(request)
    if staff is None:
        return login_redirect()
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
            return forbidden(
                request, staff, _("This case involves a child; only child-safety staff open it.")
            )
        record(db, staff.actor, "case.view", f"case:{case.id}", {})
        context = _case_context(state, db, case, staff)
        shown = state.sessions.revealed(staff.session, revealed, case.id)
        if shown is not None and not may_see_media(
            db, staff.access_role, shown.split("/frame/")[0], case.id
        ):
            shown = None
    wellness = staff.wellness
    return render(
        request,
        "console/case.html",
        {
            "staff": staff,
            "revealed": shown,
            "error": error,
            # only an outcome's own word is echoed: a crafted link cannot put text here
            "decided": decided if decided in DECIDED_WORDS else "",
            "wellness": wellness,
            "viewing": viewing_for(wellness, context["case"].category),
            "frames": _frames(state, context["items"]),
            "reasons": REASON_TEMPLATES,
            "categories": [c.value for c in Category],
            "can_decide": staff.role in DECIDING_ROLES,
            **context,
        },
    )


@router.post("/cases/{case_id}/claim")
def claim_case(
    request: Request, case_id: int, form: StaffForm = Depends(deciding_form)
) -> Response:
    """Claim the case (or let it go): others see who holds it, and may not decide it while
    the claim holds; it lapses after ``claim_minutes``."""
    staff, values = form.staff, form.values
    state = app_state(request)
    with state.db.write() as db:
        case = db.get(Case, case_id)
        if case is None or not machine.can_view(staff.role, Priority(case.priority)):
            return forbidden(request, staff, _("You may not claim this case."))
        if values.get("action") == "release":
            claims.release(db, case, staff.user.id, state.now(), "release")
        else:
            try:
                claims.claim(db, case, staff.user.id, state.now(), state.settings.claim_minutes)
            except claims.ClaimRefused:
                return RedirectResponse(
                    f"/console/cases/{case_id}?error=claimed_by_other", status_code=303
                )
    return RedirectResponse(local_console_path(values.get("back", "")), status_code=303)


@router.post("/cases/{case_id}/reveal/{content_id}")
def reveal(
    request: Request, case_id: int, content_id: str, form: StaffForm = Depends(staff_form)
) -> Response:
    """Show one item unblurred: an audit event, then the case page with that item revealed."""
    staff, values = form.staff, form.values
    frame = values.get("frame", "")
    if frame and not frame.isdigit():
        return forbidden(request, staff, _("No such frame."))
    state = app_state(request)
    with state.db.write() as db:
        if not may_see_media(db, staff.access_role, content_id, case_id):
            return forbidden(request, staff, _("You may not see this item."))
        data = {"content": content_id, **({"frame": int(frame)} if frame else {})}
        record(db, staff.actor, "media.reveal", f"case:{case_id}", data)
    # a frame's ticket names the item and the frame ("/" is never in a content id)
    target = f"{content_id}/frame/{int(frame)}" if frame else content_id
    ticket = state.sessions.reveal_ticket(staff.session, case_id, target)
    query = urlencode({"revealed": ticket})
    return RedirectResponse(
        f"/console/cases/{case_id}?{query}#item-{quote(content_id, safe='')}", status_code=303
    )


@router.get("/media/{content_id}")
def media(request: Request, content_id: str) -> Response:
    """An item's bytes for review (evidence store, or the platform); every view audited."""
    staff = signed_in(request)
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


@router.get("/media/{content_id}/frames/{number}")
def media_frame(request: Request, content_id: str, number: int) -> Response:
    """One still of a video's keyframe strip: the same rule and audit as the item's bytes."""
    staff = signed_in(request)
    if staff is None:
        return Response(status_code=401)
    state = app_state(request)
    with state.db.write() as db:
        if not may_see_media(db, staff.access_role, content_id):
            record(db, staff.actor, "media.view_refused", f"content:{content_id}", {})
            return Response(status_code=403)
        record(db, staff.actor, "media.view", f"content:{content_id}", {"frame": number})
    found = review_media.review_media(state.settings, state.evidence, content_id)
    stills = keyframe_strip(found.data, _limits(state)) if found and found.is_video else ()
    if not 0 <= number < len(stills):
        return Response(status_code=404)
    return Response(
        stills[number],
        media_type="image/jpeg",
        headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
    )


@router.post("/cases/{case_id}/decide")
def decide(request: Request, case_id: int, form: StaffForm = Depends(deciding_form)) -> Response:
    """Record a decision. A violation's references are hashed before the write transaction
    (where capture has not already): this runs in the thread pool, as every console form."""
    staff, values = form.staff, form.values
    state = app_state(request)
    template = dict(REASON_TEMPLATES).get(values.get("template", ""), "")
    note = (values.get("note", "").strip() or template)[:5000]
    decided = ""
    find_copies = copies_in(state.index, state.evidence, state.references)
    removing = (
        values.get("outcome") == AppealOutcome.OVERTURNED.value
        if values.get("kind") == "appeal"
        else values.get("outcome") == Outcome.VIOLATION.value
    )
    if removing:  # hash the references before the write lock (unless capture has)
        find_copies.prepare(state.db, case_id)
    try:
        with state.db.write() as db:
            case = db.get(Case, case_id)
            if case is None or not machine.can_view(staff.role, Priority(case.priority)):
                return forbidden(request, staff, _("You may not decide this case."))
            if claims.held_by_other(case, staff.user.id, state.now()) is not None:
                return RedirectResponse(
                    f"/console/cases/{case_id}?error=claimed_by_other", status_code=303
                )
            if values.get("kind") == "appeal":
                case_service.decide_appeal(
                    db,
                    case_id,
                    staff.reviewer,
                    AppealOutcome(values.get("outcome", "")),
                    note=note,
                    find_copies=find_copies,
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
                    find_copies=find_copies,
                    policy=state.policy,
                    now=state.now(),
                    ask=(values.get("report_id") or None) if asking else None,
                )
            claims.release(db, case, staff.user.id, state.now(), "decided")
            decided = values.get("outcome", "")
    except Refused as refused:
        return RedirectResponse(f"/console/cases/{case_id}?error={refused.code}", status_code=303)
    except ValueError:
        return RedirectResponse(f"/console/cases/{case_id}?error=invalid_outcome", status_code=303)
    state.wake.set()
    query = urlencode({"decided": decided})
    return RedirectResponse(f"/console/cases/{case_id}?{query}#decided", status_code=303)


def _blur(value: str | None, fallback: int) -> int:
    try:
        return max(0, min(64, int(value or "")))
    except ValueError:
        return fallback


@router.post("/settings")
def wellness_settings(request: Request, form: StaffForm = Depends(staff_form)) -> Response:
    """Per-reviewer wellness settings: blur strength and grayscale (in general and per
    category), video autoplay and sound, single-key shortcuts, the break reminder."""
    staff, values = form.staff, form.values
    blur = _blur(values.get("blur"), 24)
    try:
        minutes = max(0.0, min(720.0, float(values.get("break_minutes", ""))))
    except ValueError:
        minutes = app_state(request).settings.break_reminder_minutes
    grayscale = values.get("grayscale") == "on"
    per_category: dict[str, dict[str, Any]] = {}
    for c in Category:  # a category keeps its own values only where they differ or are given
        own: dict[str, Any] = {}
        if values.get(f"blur-{c.value}", "").strip():
            own["blur"] = _blur(values.get(f"blur-{c.value}"), blur)
        if (values.get(f"grayscale-{c.value}") == "on") != grayscale:
            own["grayscale"] = not grayscale
        if own:
            per_category[c.value] = own
    with app_state(request).db.write() as db:
        user = db.get(User, staff.user.id)
        assert user is not None
        user.wellness = {
            "blur": blur,
            "grayscale": grayscale,
            "autoplay": values.get("autoplay") == "on",
            "audio": values.get("audio") == "on",
            "shortcuts": values.get("shortcuts") == "on",
            "break_minutes": minutes,
            "categories": per_category,
        }
    return RedirectResponse(local_console_path(values.get("back", "")), status_code=303)


@router.get("/token", response_class=HTMLResponse)
def token_page(request: Request) -> Response:
    """Where a person takes their own API token (the API mints none for anybody)."""
    staff = signed_in(request)
    if staff is None:
        return login_redirect()
    return render(request, "console/token.html", {"staff": staff, "secret": ""})


@router.post("/token", response_class=HTMLResponse)
def create_own_token(request: Request, form: StaffForm = Depends(staff_form)) -> Response:
    """A token for the signed-in person, with their role's scopes; shown once, audited. The
    password (and second factor) is asked again: a token outlives the session, so a borrowed
    or stolen session must not turn into lasting API access."""
    staff, values = form.staff, form.values
    right = verify_login(staff.user.password_hash, values.get("password", ""))
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
    staff = signed_in(request)
    if staff is None:
        return login_redirect()
    state = app_state(request)
    days = max(1, min(days, 3650))
    since = utcnow() - timedelta(days=days)
    with state.db.read() as db:
        # a restrict clock of a case with nothing on the platform (a link elsewhere) could
        # never be met: rows from before such cases got none are not counted
        clocks = [
            clock
            for clock, unresolved in db.execute(
                select(CaseClock, Case.unresolved)
                .join(Case, Case.id == CaseClock.case_id)
                .where(CaseClock.started_at >= since)
            ).all()
            if clock_applies(ClockKind(clock.kind), not unresolved)
        ]
        cases = list(db.execute(select(Case).where(Case.created_at >= since)).scalars())
        reports = list(db.execute(select(Report).where(Report.created_at >= since)).scalars())
        delivery = delivery_figures(db, since, utcnow())
        retro_scans = recent_scans(db, only_matched=True, limit=5)
    figures = []
    for kind, title in (
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
        figures.append({"label": title, "figures": fig, "svg": duration_histogram(fig, title)})
    by_category = Counter(label(c.category) for c in cases)
    by_source = Counter(
        label("trusted_flagger" if r.trusted_flagger else r.relationship) for r in reports
    )
    return render(
        request,
        "console/dashboard.html",
        {
            "staff": staff,
            "days": days,
            "figures": figures,
            "categories_svg": count_bars(dict(by_category), _("Cases by category")),
            "sources_svg": count_bars(dict(by_source), _("Reports by source")),
            "case_count": len(cases),
            "report_count": len(reports),
            "delivery": delivery,
            "retro_scans": retro_scans,
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
templates.env.filters["label"] = label


def _period(start: str, end: str) -> tuple[datetime, datetime]:
    """The report's period from the form (days, both included); the last 30 days otherwise."""
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
        return now - timedelta(days=30), now
    return (first, last) if last > first else (now - timedelta(days=30), now)


def _report_for(request: Request, start: str, end: str) -> tuple[datetime, datetime, Figures]:
    first, last = _period(start, end)
    return first, last, transparency(app_state(request).db, first, last)


@router.get("/transparency", response_class=HTMLResponse)
def transparencyrender(request: Request, start: str = "", end: str = "") -> Response:
    """The transparency report for a period (default: the last 30 days), as published: DSA
    Art. 15 and 24, TAKE IT DOWN and CyberTipline sections, rounded and labelled, with
    charts; the same report as a PDF and the raw figures as CSV."""
    staff = signed_in(request)
    if staff is None:
        return login_redirect()
    first, last, report = _report_for(request, start, end)
    parts = sections(report)
    query = urlencode(
        {"start": first.date().isoformat(), "end": (last - timedelta(days=1)).date().isoformat()}
    )
    return render(
        request,
        "console/transparency.html",
        {
            "staff": staff,
            "report": report,
            "sections": parts,
            "charts": {s.key: bars_svg(s.bars, s.title) for s in parts if s.bars},
            "query": query,
            "start": start,
            "end": end,
        },
    )


@router.get("/transparency.pdf")
def transparency_pdf(request: Request, start: str = "", end: str = "") -> Response:
    """The same report as a PDF to publish."""
    staff = signed_in(request)
    if staff is None:
        return login_redirect()
    first, last, report = _report_for(request, start, end)
    days = f"{first.date().isoformat()}-{(last - timedelta(days=1)).date().isoformat()}"
    name = f"transparency-{days}.pdf"
    return Response(
        to_pdf(report),
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )


@router.get("/transparency.csv")
def transparency_csv(request: Request, start: str = "", end: str = "") -> Response:
    """The raw figures, one row each, unrounded (for anyone recomputing the report)."""
    staff = signed_in(request)
    if staff is None:
        return login_redirect()
    report = _report_for(request, start, end)[2]
    return Response(
        to_csv(report),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="transparency.csv"'},
    )


@router.get("/cybertipline", response_class=HTMLResponse)
def cybertiplinerender(request: Request, error: str = "", done: str = "") -> Response:
    """The CyberTipline queue: drafts from confirmed child-abuse cases (a blocked re-upload
    joins its earlier attempts' draft: one report, every attempt listed); legal staff approve
    and file them. Whether filing can work (credentials set) is said before anyone tries."""
    staff = signed_in(request)
    if staff is None:
        return login_redirect()
    if not access.allowed(staff.access_role, Resource.CYBERTIP_VIEW):
        return forbidden(request, staff, _("The CyberTipline queue is for legal staff."))
    state = app_state(request)
    with state.db.read() as db:
        tips = list(db.execute(select(CyberTipReport).order_by(CyberTipReport.id)).scalars())
        attempts = cybertip.attempts(db, [t.case_id for t in tips])
    context = {
        "staff": staff,
        "tips": tips,
        "attempts": attempts,
        "error": error,
        "done": done,
        "missing": cybertip.missing_settings(state.settings),
    }
    return render(request, "console/cybertipline.html", context)


filer_form = staff_form_of(
    lambda staff: staff.may(Resource.CYBERTIP_FILE),
    _("Only legal staff approve and file reports."),
)
"""The gate of the CyberTipline forms: legal staff only."""


def _missing_credentials(state: AppState, what: str) -> Response | None:
    """The queue saying which NCMEC settings are missing, or None when none is."""
    if cybertip.missing_settings(state.settings):
        return _tip_problem(what + ": " + _("NCMEC credentials are missing (see above)"))
    return None


@router.post("/cybertipline/{tip_id}/approve")
def approve_tip(request: Request, tip_id: int, form: StaffForm = Depends(filer_form)) -> Response:
    """Approve a draft and file it. Without NCMEC credentials nothing changes (the draft stays
    approvable) and the page says which settings are missing; an approved report whose filing
    failed is filed again with "File now" (:func:`file_tip`)."""
    state = app_state(request)
    missing = _missing_credentials(state, _("not approved"))
    if missing is not None:
        return missing
    staff = form.staff
    try:
        with state.db.write() as db:
            cybertip.approve(db, tip_id, staff.user.id, state.now())
    except cybertip.TipRefused as problem:
        return _tip_problem(str(problem))
    return _file_now(state, tip_id)


@router.post("/cybertipline/{tip_id}/file")
def file_tip(request: Request, tip_id: int, _form: StaffForm = Depends(filer_form)) -> Response:
    """File (or resume filing) an approved report, e.g. once credentials are configured."""
    state = app_state(request)
    return _missing_credentials(state, _("not filed")) or _file_now(state, tip_id)


def _tip_problem(message: str) -> Response:
    return RedirectResponse(f"/console/cybertipline?error={quote(message[:300])}", status_code=303)


def _file_now(state: AppState, tip_id: int) -> Response:
    try:
        client = ncmec_client(state)
        try:
            cybertip.file_report(
                state.db, client, state.evidence, reporter_settings(state), tip_id, state.now()
            )
        finally:
            client.close()
    except (cybertip.TipRefused, NcmecError, ApiError, ValueError) as problem:
        message = problem.message if isinstance(problem, ApiError) else str(problem)
        return _tip_problem(message)
    return RedirectResponse(f"/console/cybertipline?done={tip_id}", status_code=303)
