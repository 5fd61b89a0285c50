"""The public pages: what happens to a report, the report form (works without JavaScript), the
receipt with the private status link, and the status page."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from takedown.api.report_limits import admit_report
from takedown.api.state import app_state, public_base
from takedown.cases.machine import Refused
from takedown.cases.validation import FieldProblem, ReportDraft, validate
from takedown.cases.vocabulary import Appellant, Category, MinorDepicted, Relationship
from takedown.service import cases as case_service
from takedown.service.intake import BadHash, ReportedHash, accept_report, report_signals
from takedown.signals import AnySignal
from takedown.web.media import capture
from takedown.web.session import FORM_COOKIE, same
from takedown.web.templating import _, render

router = APIRouter(include_in_schema=False)

CATEGORIES = [
    (Category.CHILD_SEXUAL_ABUSE, _("Sexual content involving someone under 18")),
    (Category.NON_CONSENSUAL_INTIMATE_IMAGE, _("Intimate images shared without consent")),
    (Category.SEXUAL_EXPLOITATION_OR_TRAFFICKING, _("Sexual exploitation or trafficking")),
    (Category.OTHER, _("Something else")),
]
RELATIONSHIPS = [
    (Relationship.SELF, _("It shows me")),
    (Relationship.PARENT_OR_GUARDIAN, _("I am a parent or guardian of the person shown")),
    (Relationship.AUTHORISED_REPRESENTATIVE, _("I represent the person shown")),
    (Relationship.NGO, _("I work for a child-protection or victim-support organisation")),
    (Relationship.LAW_ENFORCEMENT, _("I am law enforcement")),
    (Relationship.OTHER_USER, _("I came across it")),
]
MINOR = [
    (MinorDepicted.YES, _("Yes")),
    (MinorDepicted.UNSURE, _("I am not sure")),
    (MinorDepicted.NO, _("No")),
]
STATUS_TEXT = {
    "received": _("We received your report. A person will review it."),
    "restricted_pending_review": _(
        "The content has been hidden while a person reviews your report."
    ),
    "under_review": _("A person is reviewing your report."),
    "need_more_information": _("The reviewer has a question for you (below)."),
    "removed": _("The content was removed, with the copies we found. Re-uploads are blocked."),
    "no_violation_found": _("The reviewers did not find that the content breaks the rules."),
    # said without "your": the appeal may be another reporter's or the uploader's
    "in_appeal": _("The decision is being looked at again by a reviewer who took no part in it."),
}
REMOVED_TEXT = {
    # said no wider than the reported item's fingerprint allowed (signals.strength)
    "exact_only": _(
        "The content was removed, with the identical copies we found. Identical copies were "
        "searched; altered copies of this item cannot be recognised automatically, so only "
        "identical re-uploads are blocked."
    ),
    "weak": _(
        "The content was removed, with the copies we found. This item's fingerprint is weak: "
        "altered copies are found and blocked only as far as it can recognise them, and some "
        "may be missed."
    ),
}


def status_text(status: str, strength: str | None) -> str:
    """The status page's lead sentence: a removal never claims a wider search or block than
    the reported item's fingerprint allowed."""
    if status == "removed" and strength in REMOVED_TEXT:
        return REMOVED_TEXT[strength]
    return STATUS_TEXT[status]


def _form_page(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
    """A page holding a form: the double-submit token goes in the form and in a cookie."""
    sessions = app_state(request).sessions
    token = sessions.form_token(request)
    response = render(request, name, {**context, "csrf": token}, status)
    sessions.keep_form_token(request, response, token)
    return response


def _error(request: Request, code: int, message: str) -> Response:
    return render(request, "error.html", {"code": code, "message": message}, code)


@router.get("/", response_class=HTMLResponse)
def home(request: Request) -> Response:
    return render(request, "index.html", {})


OWN_COPY_TYPES = ("pdq", "md5", "sha256")
"""What the report page computes in the reporter's browser from their own copy."""
MAX_OWN_COPY_FIELDS = 16


@dataclass(frozen=True)
class OwnCopy:
    """The hashes of the reporter's own copy, computed in their browser (the file never leaves
    it): ``hash`` fields (``type:value``) and the PDQ hash's ``pdq_dihedral`` variants
    (``transform:value``), kept as fields too so that a form with errors sends them again."""

    hashes: tuple[ReportedHash, ...] = ()
    signals: tuple[AnySignal, ...] = ()
    fields: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_form(
        cls, raw_hashes: Sequence[object], raw_variants: Sequence[object]
    ) -> tuple[OwnCopy, list[FieldProblem]]:
        """Validated like the API's ``hashes``; a bad one is a problem on the section."""
        variants = dict(
            str(item).strip().lower().partition(":")[::2]
            for item in raw_variants[:MAX_OWN_COPY_FIELDS]
        )
        hashes = []
        for item in raw_hashes[:MAX_OWN_COPY_FIELDS]:
            signal_type, _sep, value = str(item).strip().lower().partition(":")
            if signal_type in OWN_COPY_TYPES:
                dihedral = variants if signal_type == "pdq" and variants else None
                hashes.append(ReportedHash(signal_type, value, dihedral))
        try:
            signals = report_signals(hashes)
        except BadHash:
            problem = FieldProblem(
                "own_copy",
                _("The fingerprint of your copy could not be read. Choose the file again."),
            )
            return cls(), [problem]
        fields = [("hash", f"{h.type}:{h.value}") for h in hashes]
        fields += [("pdq_dihedral", f"{name}:{value}") for name, value in variants.items()]
        return cls(tuple(hashes), tuple(signals), tuple(fields)), []


def _form(
    request: Request,
    values: dict[str, Any],
    problems: list[FieldProblem],
    status: int,
    own_copy: OwnCopy = OwnCopy(),
) -> Response:
    context = {
        "own_copy": own_copy.fields,
        "values": values,
        "errors": {p.field: p.message for p in problems},
        "categories": CATEGORIES,
        "relationships": RELATIONSHIPS,
        "minor_options": MINOR,
    }
    return _form_page(request, "report.html", context, status)


@router.get("/report", response_class=HTMLResponse)
def report_form(request: Request, url: str = "") -> Response:
    return _form(request, {"url": url}, [], 200)


@router.post("/report", response_class=HTMLResponse)
async def report_submit(request: Request) -> Response:
    state = app_state(request)
    form = await request.form()
    values = {k: str(v) for k, v in form.items() if isinstance(v, str)}
    if not same(values.get("csrf_token"), request.cookies.get(FORM_COOKIE)):
        return _error(request, 403, _("This form expired. Reload the page and send it again."))
    choices = [
        ("category", Category, Category.OTHER),
        ("minor_depicted", MinorDepicted, MinorDepicted.NO),
        ("relationship", Relationship, Relationship.OTHER_USER),
    ]
    unchosen = [
        FieldProblem(name, _("Please choose one of the options."))
        for name, kind, _default in choices
        if values.get(name, "") not in {member.value for member in kind}
    ]
    picked = {
        name: kind(values[name]) if values.get(name, "") in {m.value for m in kind} else default
        for name, kind, default in choices
    }
    own_copy, hash_problems = OwnCopy.from_form(form.getlist("hash"), form.getlist("pdq_dihedral"))
    draft = ReportDraft(
        category=Category(picked["category"]),
        minor_depicted=MinorDepicted(picked["minor_depicted"]),
        relationship=Relationship(picked["relationship"]),
        content_urls=tuple(u.strip() for u in values.get("url", "").splitlines() if u.strip()),
        hashes=tuple((h.type, h.value) for h in own_copy.hashes),
        description=values.get("description", "")[:5000],
        email=values.get("email", "").strip()[:320],
        phone=values.get("phone", "").strip()[:40],
        good_faith_statement=values.get("good_faith_statement") == "yes",
        signature=values.get("signature", "").strip()[:200],
    )
    problems = unchosen + hash_problems + validate(draft)
    if problems:
        return _form(request, values, problems, 422, own_copy)
    if not (await admit_report(request, draft, own_copy.signals)).admitted:
        return _error(
            request, 429, _("Too many reports came from here. Wait a minute, then retry.")
        )
    now = state.now()
    accepted = await run_in_threadpool(
        accept_report,
        state.db,
        state.index,
        state.policy,
        draft,
        own_copy.signals,
        trusted_flagger=False,
        reporter_key_id=None,
        now=now,
    )
    state.wake.set()
    status_url = f"{public_base(request)}/status/{accepted.status_token}"
    response = render(
        request,
        "receipt.html",
        {"accepted": accepted, "status_url": status_url, "received_at": now},
        201,
    )
    if accepted.content_ids and state.settings.media_url_template:
        response.background = BackgroundTask(
            capture, state.settings, state.evidence, list(accepted.content_ids)
        )
    return response


@router.get("/status/{token}", response_class=HTMLResponse)
def statusrender(request: Request, token: str) -> Response:
    state = app_state(request)
    with state.db.read() as session:
        try:
            found = case_service.status(session, token, state.policy, state.now())
        except case_service.CaseNotFound:
            return _error(
                request, 404, _("This status link is not known. Check you copied all of it.")
            )
    strength = found.fingerprint.strength.value if found.fingerprint is not None else None
    context = {"status": found, "text": status_text(found.status, strength), "token": token}
    return _form_page(request, "status.html", context)


@router.post("/status/{token}", response_class=HTMLResponse)
async def status_action(request: Request, token: str) -> Response:
    """The reporter answers the question asked of their own report (an answer from a reporter
    asked nothing is refused, and the page simply shows the status again) or appeals a
    dismissal."""
    state = app_state(request)
    form = await request.form()
    values = {k: str(v) for k, v in form.items() if isinstance(v, str)}
    if not same(values.get("csrf_token"), request.cookies.get(FORM_COOKIE)):
        return _error(request, 403, _("This form expired. Reload the page and try again."))
    try:
        with state.db.write() as session:
            if values.get("action") == "appeal":
                report = case_service.report_for_token(session, token)
                case_service.open_appeal(
                    session,
                    report.case_id,
                    Appellant.REPORTER,
                    values.get("message", "")[:5000],
                    state.policy,
                    state.now(),
                    actor="reporter",
                )
            else:
                case_service.reply(session, token, values.get("message", "")[:5000], state.now())
    except (Refused, case_service.CaseNotFound):
        pass
    return RedirectResponse(f"/status/{token}", status_code=303)
