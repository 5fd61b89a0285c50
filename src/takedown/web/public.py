"""The public pages: what happens to a report, the report form (works without JavaScript), the
receipt with the private status link, and the status page. Every page is in the reader's
language (:func:`takedown.web.templating.render_localised`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from takedown.api.report_limits import admit_report
from takedown.api.state import app_state, public_base
from takedown.cases.machine import Refused
from takedown.cases.validation import FieldProblem, ReportDraft, validate
from takedown.cases.vocabulary import Appellant, Category, MinorDepicted, Relationship
from takedown.notify.address import AddressBox, plausible_address
from takedown.notify.subscriptions import stop_for_token, subscribe, subscribed
from takedown.service import cases as case_service
from takedown.service.intake import BadHash, ReportedHash, accept_report, report_signals
from takedown.signals import AnySignal
from takedown.web.media import capture
from takedown.web.session import FORM_COOKIE, same
from takedown.web.support import support_links
from takedown.web.templating import N_, Language, render_localised

router = APIRouter(include_in_schema=False)

NCII = Category.NON_CONSENSUAL_INTIMATE_IMAGE
CATEGORIES = [
    (Category.CHILD_SEXUAL_ABUSE, N_("Sexual content involving someone under 18")),
    (NCII, N_("Intimate images shared without consent")),
    (Category.SEXUAL_EXPLOITATION_OR_TRAFFICKING, N_("Sexual exploitation or trafficking")),
    (Category.OTHER, N_("Something else")),
]
RELATIONSHIPS = [
    (Relationship.SELF, N_("It shows me")),
    (Relationship.PARENT_OR_GUARDIAN, N_("I am a parent or guardian of the person shown")),
    (Relationship.AUTHORISED_REPRESENTATIVE, N_("I represent the person shown")),
    (Relationship.NGO, N_("I work for a child-protection or victim-support organisation")),
    (Relationship.LAW_ENFORCEMENT, N_("I am law enforcement")),
    (Relationship.OTHER_USER, N_("I came across it")),
]
MINOR = [
    (MinorDepicted.YES, N_("Yes")),
    (MinorDepicted.UNSURE, N_("I am not sure")),
    (MinorDepicted.NO, N_("No")),
]
STATUS_TEXT = {
    "received": N_("We received your report. A person will review it."),
    "restricted_pending_review": N_(
        "The content has been hidden while a person reviews your report."
    ),
    "under_review": N_("A person is reviewing your report."),
    "need_more_information": N_("The reviewer has a question for you (below)."),
    "removed": N_("The content was removed, with the copies we found. Re-uploads are blocked."),
    "no_violation_found": N_("The reviewers did not find that the content breaks the rules."),
    # said without "your": the appeal may be another reporter's or the uploader's
    "in_appeal": N_("The decision is being looked at again by a reviewer who took no part in it."),
}
REMOVED_TEXT = {
    # said no wider than the reported item's fingerprint allowed (signals.strength)
    "exact_only": N_(
        "The content was removed, with the identical copies we found. Identical copies were "
        "searched; altered copies of this item cannot be recognised automatically, so only "
        "identical re-uploads are blocked."
    ),
    "weak": N_(
        "The content was removed, with the copies we found. This item's fingerprint is weak: "
        "altered copies are found and blocked only as far as it can recognise them, and some "
        "may be missed."
    ),
}
DECISIONS = {
    "removal": N_("Removed"),
    "no_action": N_("No action: the content stays up"),
}
REPORTER_REDRESS = {
    # the statement's own redress is addressed to the uploader (who may appeal a removal); the
    # reporter cannot, and is told what can still happen instead
    "removal": N_(
        "The person who posted the content may appeal. A reviewer who took no part in this "
        "decision would then look at it again, and this page would show the outcome."
    ),
    "no_action": N_(
        "You can appeal below within 6 months: a reviewer who took no part in the decision "
        "will look at it again. You may also use an out-of-court dispute settlement body or "
        "the courts."
    ),
}

QUESTIONS = {
    "category": N_("What is it?"),
    "minor_depicted": N_("Is anyone shown under 18?"),
    "relationship": N_("Who are you?"),
}
UNANSWERED = N_("Answer the question “%(question)s”: choose one of the options.")
MESSAGES = {
    # what the form says for each problem that cases.validation names (its own words are the
    # API's, for developers)
    "content": N_(
        "Answer “Link to the content”: give the address of the page or image (or, with "
        "JavaScript on, fingerprint your own copy)."
    ),
    "contact.email": N_("This is not an e-mail address. Check it, or leave it empty."),
    "contact.phone": N_("This is not a phone number. Check it, or leave it empty."),
    "contact": N_(
        "Give an e-mail address or a phone number: the law asks for a way to reach you in a "
        "removal request for intimate images."
    ),
    "good_faith_statement": N_(
        "Tick the good-faith statement: the law asks for it in a removal request for intimate "
        "images."
    ),
    "signature": N_(
        "Type your full name as your signature: the law asks for it in a removal request for "
        "intimate images."
    ),
}
NOT_A_LINK = N_(
    "This is not a link: “%(text)s”. Copy the full address of the page or image, starting "
    "with https://"
)
BAD_NOTIFY_ADDRESS = N_("This is not an e-mail address. Check it, or leave it empty.")
FORM_EXPIRED = N_(
    "This form had expired, so it was not sent. Your answers are kept below: check them and "
    "send the report again."
)
FIELD_ORDER = (
    "content",
    "own_copy",
    "category",
    "minor_depicted",
    "relationship",
    "contact",
    "contact.email",
    "contact.phone",
    "good_faith_statement",
    "signature",
    "notify_email",
)
ANCHORS = {"contact.email": "email", "contact.phone": "phone", "notify_email": "notify-email"}
"""Where the error summary's link for a field goes (the id of its input)."""


def status_text(status: str, strength: str | None) -> str:
    """The status page's lead sentence (an English source string, translated on the page): a
    removal never claims a wider search or block than the reported item's fingerprint allowed."""
    if status == "removed" and strength in REMOVED_TEXT:
        return REMOVED_TEXT[strength]
    return STATUS_TEXT[status]


@dataclass(frozen=True)
class Wrong:
    """A field's problem before it is worded: an English source string and its values (a
    value that is itself a source string, such as a question, is translated too)."""

    field: str
    message: str
    values: tuple[tuple[str, str], ...] = ()
    translate_values: bool = False

    @classmethod
    def of(cls, problem: FieldProblem) -> Wrong:
        return cls(problem.field, MESSAGES.get(problem.field, problem.message))


@dataclass(frozen=True)
class Problem:
    """A field's problem as the form shows it: in the reader's language, linked to its input."""

    field: str
    anchor: str
    message: str


def _worded(language: Language, wrong: Wrong) -> str:
    values = {
        name: language.gettext(value) if wrong.translate_values else value
        for name, value in wrong.values
    }
    return language.gettext(wrong.message, **values)


def _problems(language: Language, found: Sequence[Wrong]) -> list[Problem]:
    """One message per field, in the form's order (a field named twice keeps its first)."""
    first: dict[str, Wrong] = {}
    for wrong in found:
        first.setdefault(wrong.field, wrong)
    ordered = sorted(first, key=lambda f: FIELD_ORDER.index(f) if f in FIELD_ORDER else 99)
    return [Problem(f, ANCHORS.get(f, f), _worded(language, first[f])) for f in ordered]


def _bad_links(lines: Sequence[str]) -> list[Wrong]:
    """Each line of the link field must be a web address: free text ("on his profile") names
    nothing a reviewer can find, and a report about it would only wait."""
    for line in lines:
        parts = urlsplit(line)
        if parts.scheme not in ("http", "https") or not parts.hostname or " " in line:
            shown = line if len(line) <= 60 else line[:57] + "..."
            return [Wrong("content", NOT_A_LINK, (("text", shown),))]
    return []


def _page(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
    """A public page in the reader's language, with the support links. A page holding a form
    gets the double-submit token in the form and in a cookie."""
    state = app_state(request)
    sessions = state.sessions
    token = sessions.form_token(request)
    context = {**context, "csrf": token, "support": support_links(state.settings)}
    response = render_localised(request, name, context, status)
    sessions.keep_form_token(request, response, token)
    return response


def _error(request: Request, code: int, message: str) -> Response:
    return _page(request, "error.html", {"code": code, "message": message}, code)


@router.get("/", response_class=HTMLResponse)
def home(request: Request) -> Response:
    return _page(request, "index.html", {})


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
    ) -> tuple[OwnCopy, list[Wrong]]:
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
            problem = Wrong(
                "own_copy",
                N_("The fingerprint of your copy could not be read. Choose the file again."),
            )
            return cls(), [problem]
        fields = [("hash", f"{h.type}:{h.value}") for h in hashes]
        fields += [("pdq_dihedral", f"{name}:{value}") for name, value in variants.items()]
        return cls(tuple(hashes), tuple(signals), tuple(fields)), []


def _form(
    request: Request,
    values: Mapping[str, str],
    problems: Sequence[Wrong],
    status: int,
    own_copy: OwnCopy = OwnCopy(),
    notice: str = "",
) -> Response:
    language = Language.of(request)
    worded = _problems(language, problems)
    context = {
        "own_copy": own_copy.fields,
        "values": values,
        "problems": worded,
        "errors": {p.field: p for p in worded},
        "notice": language.gettext(notice) if notice else "",
        "categories": CATEGORIES,
        "relationships": RELATIONSHIPS,
        "minor_options": MINOR,
        "ncii": NCII.value,
        "mail": bool(app_state(request).settings.smtp_host),
    }
    return _page(request, "report.html", context, status)


@router.get("/report", response_class=HTMLResponse)
def report_form(request: Request, url: str = "") -> Response:
    return _form(request, {"url": url}, [], 200)


CHOICES = (
    ("category", Category, Category.OTHER),
    ("minor_depicted", MinorDepicted, MinorDepicted.NO),
    ("relationship", Relationship, Relationship.OTHER_USER),
)


def _draft(values: Mapping[str, str], own_copy: OwnCopy) -> tuple[ReportDraft, list[Wrong]]:
    """The report the form describes, and its unanswered questions. The signature and the
    good-faith statement belong to a removal request for intimate images only: for any other
    kind they are not asked (the page hides them) and not kept."""
    unanswered = [
        Wrong(name, UNANSWERED, (("question", QUESTIONS[name]),), translate_values=True)
        for name, kind, _default in CHOICES
        if values.get(name, "") not in {member.value for member in kind}
    ]
    picked = {
        name: kind(values[name]) if values.get(name, "") in {m.value for m in kind} else default
        for name, kind, default in CHOICES
    }
    category = Category(picked["category"])
    takedown_request = category is NCII
    draft = ReportDraft(
        category=category,
        minor_depicted=MinorDepicted(picked["minor_depicted"]),
        relationship=Relationship(picked["relationship"]),
        content_urls=tuple(u.strip() for u in values.get("url", "").splitlines() if u.strip()),
        hashes=tuple((h.type, h.value) for h in own_copy.hashes),
        description=values.get("description", "")[:5000],
        email=values.get("email", "").strip()[:320],
        phone=values.get("phone", "").strip()[:40],
        good_faith_statement=takedown_request and values.get("good_faith_statement") == "yes",
        signature=values.get("signature", "").strip()[:200] if takedown_request else "",
    )
    return draft, unanswered


@router.post("/report", response_class=HTMLResponse)
async def report_submit(request: Request) -> Response:
    state = app_state(request)
    form = await request.form()
    values = {k: str(v) for k, v in form.items() if isinstance(v, str)}
    own_copy, hash_problems = OwnCopy.from_form(form.getlist("hash"), form.getlist("pdq_dihedral"))
    if not same(values.get("csrf_token"), request.cookies.get(FORM_COOKIE)):
        # nothing is sent, and nothing typed is lost: the form again, filled in, with a fresh
        # token (its cookie is set with the page)
        return _form(request, values, [], 403, own_copy, notice=FORM_EXPIRED)
    draft, unanswered = _draft(values, own_copy)
    notify_email = values.get("notify_email", "").strip()[:320]
    notify_problems = (
        [Wrong("notify_email", BAD_NOTIFY_ADDRESS)]
        if notify_email and not plausible_address(notify_email)
        else []
    )
    problems = (
        unanswered
        + hash_problems
        + _bad_links(draft.content_urls)
        + [Wrong.of(problem) for problem in validate(draft)]
        + notify_problems
    )
    if problems:
        return _form(request, values, problems, 422, own_copy)
    if not (await admit_report(request, draft, own_copy.signals)).admitted:
        return _error(
            request, 429, N_("Too many reports came from here. Wait a minute, then retry.")
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
    if notify_email and state.settings.smtp_host:
        box = AddressBox(state.secret)
        with state.db.write() as session:
            subscribe(
                session,
                box,
                accepted.status_token,
                notify_email,
                Language.of(request).code,
                state.policy,
                now,
            )
    state.wake.set()
    status_url = f"{public_base(request)}/status/{accepted.status_token}"
    response = _page(
        request,
        "receipt.html",
        {
            "accepted": accepted,
            "status_url": status_url,
            "received_at": now,
            "mail": bool(notify_email and state.settings.smtp_host),
        },
        201,
    )
    if accepted.content_ids:  # captured (with media_url_template) and hashed as references
        response.background = BackgroundTask(
            capture, state.settings, state.evidence, list(accepted.content_ids), state.references
        )
    return response


def _status_page(
    request: Request, token: str, status: int = 200, notice: str = "", kept: str = ""
) -> Response:
    state = app_state(request)
    with state.db.read() as session:
        try:
            found = case_service.status(session, token, state.policy, state.now())
        except case_service.CaseNotFound:
            return _error(
                request, 404, N_("This status link is not known. Check you copied all of it.")
            )
        mails = subscribed(session, token)
    strength = found.fingerprint.strength.value if found.fingerprint is not None else None
    decision = str(found.statement.get("decision", "")) if found.statement else ""
    context = {
        "status": found,
        "text": status_text(found.status, strength),
        "token": token,
        "decision": DECISIONS.get(decision, decision),
        "redress": REPORTER_REDRESS.get(decision, ""),
        "mails": mails,
        "notice": notice,
        "kept": kept,
    }
    return _page(request, "status.html", context, status)


@router.get("/status/{token}", response_class=HTMLResponse)
def statusrender(request: Request, token: str) -> Response:
    return _status_page(request, token)


STATUS_FORM_EXPIRED = N_(
    "This form had expired, so it was not sent. Your text is kept below: send it again."
)


@router.post("/status/{token}", response_class=HTMLResponse)
async def status_action(request: Request, token: str) -> Response:
    """The reporter answers the question asked of their own report (an answer from a reporter
    asked nothing is refused, and the page simply shows the status again), appeals a
    dismissal, or stops the status e-mails."""
    state = app_state(request)
    form = await request.form()
    values = {k: str(v) for k, v in form.items() if isinstance(v, str)}
    message = values.get("message", "")[:5000]
    if not same(values.get("csrf_token"), request.cookies.get(FORM_COOKIE)):
        return _status_page(request, token, 403, STATUS_FORM_EXPIRED, message)
    try:
        with state.db.write() as session:
            action = values.get("action")
            if action == "appeal":
                report = case_service.report_for_token(session, token)
                case_service.open_appeal(
                    session,
                    report.case_id,
                    Appellant.REPORTER,
                    message,
                    state.policy,
                    state.now(),
                    actor="reporter",
                )
            elif action == "stop_mail":
                stop_for_token(session, token, state.now())
            else:
                case_service.reply(session, token, message, state.now())
    except (Refused, case_service.CaseNotFound):
        pass
    return RedirectResponse(f"/status/{token}", status_code=303)
