"""Console administration: staff and roles, API keys, webhooks (delivery log, retry), banks
(upload a hash file, disable entries). Admins only; banks also for child-safety specialists.
Each page calls the same service functions as the API, so both stay one way of doing it."""

from __future__ import annotations

from datetime import datetime
from pathlib import PurePath
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from takedown.actions import delivery as delivery_service
from takedown.actions import webhooks as webhook_service
from takedown.actions.addresses import Networks, UrlRefused, check_new
from takedown.actions.breaker import Circuit
from takedown.actions.kinds import ActionKind
from takedown.api.routes.banks import upload_lines
from takedown.api.state import app_state
from takedown.audit.log import record
from takedown.auth import access, accounts, throttle
from takedown.auth.accounts import AccountError, create_key, create_user, revoke_key, set_role
from takedown.auth.scopes import Role, parse_scopes
from takedown.cases.vocabulary import StaffRole
from takedown.matching import banks as bank_files
from takedown.service import banks as bank_service
from takedown.service.retro_scan import recent_scans
from takedown.store.models import Action, ApiKey, Bank, Delivery, User, Webhook, utcnow
from takedown.web.staff import (
    Staff,
    StaffForm,
    forbidden,
    login_redirect,
    signed_in,
    staff_form_of,
)
from takedown.web.templating import _, render

router = APIRouter(prefix="/console/admin", include_in_schema=False)

BANK_ROLES = {StaffRole.ADMIN, StaffRole.CHILD_SAFETY_SPECIALIST}


ADMINS_ONLY = _("Only administrators use these pages.")

admin_form = staff_form_of(lambda staff: staff.role is StaffRole.ADMIN, ADMINS_ONLY)
"""The gate of the administration forms."""
bank_form = staff_form_of(lambda staff: staff.role in BANK_ROLES, ADMINS_ONLY)
"""The gate of the bank forms (administrators and child-safety specialists)."""


def admin_page(request: Request, banks: bool = False) -> Staff | Response:
    """The signed-in administrator (with ``banks``: or specialist) for a page, else the
    answer to give (sign in, or refused)."""
    staff = signed_in(request)
    if staff is None:
        return login_redirect()
    allowed = BANK_ROLES if banks else {StaffRole.ADMIN}
    if staff.role not in allowed:
        return forbidden(request, staff, ADMINS_ONLY)
    return staff


def _overview(request: Request, staff: Staff, **extra: Any) -> Response:
    state = app_state(request)
    with state.db.read() as db:
        users = list(db.execute(select(User).order_by(User.id)).scalars())
        keys = list(db.execute(select(ApiKey).order_by(ApiKey.id)).scalars())
        hooks = list(db.execute(select(Webhook).order_by(Webhook.id)).scalars())
        deliveries = list(
            db.execute(select(Delivery).order_by(Delivery.id.desc()).limit(50)).scalars()
        )
        delivered_actions = {
            a.id: a
            for a in db.execute(
                select(Action).where(Action.id.in_({d.action_id for d in deliveries}))
            ).scalars()
        }
        banks = list(db.execute(select(Bank).order_by(Bank.name)).scalars())
        counts = bank_service.entry_counts(db)
        locks = _sign_in_locks(request, db, users)
    return render(
        request,
        "console/admin.html",
        {
            "staff": staff,
            "users": users,
            "locks": locks,
            "keys": keys,
            "hooks": hooks,
            "circuits": {h.id: _circuit(h) for h in hooks},
            "deliveries": deliveries,
            "delivered_actions": delivered_actions,
            "banks": banks,
            "counts": counts,
            "roles": [r.value for r in Role],
            "kinds": [k.value for k in ActionKind],
            "shown": extra.get("shown"),
            "message": extra.get("message", ""),
            "problems": extra.get("problems", []),
        },
        extra.get("status", 200),
    )


def _circuit(hook: Webhook) -> str:
    """closed, open or probe (actions/breaker.py)."""
    return Circuit(hook.consecutive_failures, hook.circuit_open_until).state(utcnow()).value


def _sign_in_locks(request: Request, db: Session, users: list[User]) -> dict[int, datetime]:
    """User id -> until when a sign-in lock holds on their account (from some address)."""
    state = app_state(request)
    accounts = {throttle.account_key(state.secret, u.email): u.id for u in users}
    return throttle.locked_accounts(db, accounts, state.now())


@router.get("", response_class=HTMLResponse)
def adminrender(request: Request) -> Response:
    staff = admin_page(request, banks=True)
    if isinstance(staff, Response):
        return staff
    return _overview(request, staff)


def _refused_grant(staff: Staff, role_name: str) -> str:
    """Why this person may not give ``role_name`` (``auth.access.may_grant``, as the API
    asks), or "" when they may (an unknown role is left to the account layer's message)."""
    try:
        role = Role(role_name)
    except ValueError:
        return ""
    if access.may_grant(staff.access_role, role):
        return ""
    return _(
        "The role %(role)s reads evidence or reporters' contacts, which yours does not: the "
        "operator grants it with `takedown users create` or `takedown users role`."
    ) % {"role": role.value}


@router.post("/users")
def add_user(request: Request, form: StaffForm = Depends(admin_form)) -> Response:
    staff, values = form.staff, form.values
    refused = _refused_grant(staff, values.get("role", ""))
    if refused:
        return _overview(request, staff, message=refused, status=403)
    try:
        with app_state(request).db.write() as db:
            user, password = create_user(
                db, values.get("email", ""), Role(values.get("role", "")), None, staff.actor
            )
            shown = {"what": _("Password for") + f" {user.email}", "secret": password}
    except (AccountError, ValueError) as exc:
        return _overview(request, staff, message=str(exc), status=422)
    return _overview(request, staff, shown=shown)


@router.post("/users/{user_id}/disable")
def disable_user(request: Request, user_id: int, form: StaffForm = Depends(admin_form)) -> Response:
    staff = form.staff
    with app_state(request).db.write() as db:
        user = db.get(User, user_id)
        if user is not None and user.id != staff.user.id:
            user.disabled = True
            record(db, staff.actor, "user.disable", f"user:{user.id}", {})
    return RedirectResponse("/console/admin#users", status_code=303)


@router.post("/users/{user_id}/unlock")
def unlock_user(request: Request, user_id: int, form: StaffForm = Depends(admin_form)) -> Response:
    """Let a locked-out person back in: every sign-in lock on the account goes (audited)."""
    staff = form.staff
    state = app_state(request)
    try:
        with state.db.write() as db:
            accounts.unlock_user(db, user_id, state.secret, state.now(), staff.actor)
    except AccountError as exc:
        return _overview(request, staff, message=str(exc), status=404)
    return RedirectResponse("/console/admin#users", status_code=303)


@router.post("/users/{user_id}/role")
def change_role(request: Request, user_id: int, form: StaffForm = Depends(admin_form)) -> Response:
    staff, values = form.staff, form.values
    refused = _refused_grant(staff, values.get("role", ""))
    if refused:
        return _overview(request, staff, message=refused, status=403)
    try:
        with app_state(request).db.write() as db:
            set_role(db, user_id, Role(values.get("role", "")), staff.actor)
    except (AccountError, ValueError) as exc:
        return _overview(request, staff, message=str(exc), status=422)
    return RedirectResponse("/console/admin#users", status_code=303)


@router.post("/keys")
def add_key(request: Request, form: StaffForm = Depends(admin_form)) -> Response:
    staff, values = form.staff, form.values
    try:
        scopes = parse_scopes([values.get("scopes", "")])
        with app_state(request).db.write() as db:
            _row, secret = create_key(db, values.get("name", "")[:200], scopes, staff.actor)
    except (AccountError, ValueError) as exc:
        return _overview(request, staff, message=str(exc), status=422)
    return _overview(request, staff, shown={"what": _("API key"), "secret": secret})


@router.post("/keys/{key_id}/revoke")
def revoke(request: Request, key_id: int, form: StaffForm = Depends(admin_form)) -> Response:
    staff = form.staff
    try:
        with app_state(request).db.write() as db:
            revoke_key(db, key_id, staff.actor)
    except AccountError as exc:
        return _overview(request, staff, message=str(exc), status=404)
    return RedirectResponse("/console/admin#keys", status_code=303)


@router.post("/webhooks")
def add_webhook(request: Request, form: StaffForm = Depends(admin_form)) -> Response:
    staff, values = form.staff, form.values
    state = app_state(request)
    try:
        hook_url = check_new(values.get("url", "").strip(), Networks.from_settings(state.settings))
    except UrlRefused as refused:
        return _overview(request, staff, message=str(refused), status=422)
    with state.db.write() as db:
        _hook, secret = webhook_service.create_webhook(db, hook_url, [], staff.actor)
    return _overview(request, staff, shown={"what": _("Webhook signing secret"), "secret": secret})


@router.post("/deliveries/{delivery_id}/retry")
def retry(request: Request, delivery_id: int, form: StaffForm = Depends(admin_form)) -> Response:
    staff = form.staff
    state = app_state(request)
    if delivery_service.retry_now(state.db, delivery_id):
        with state.db.write() as db:
            record(db, staff.actor, "delivery.retry", f"delivery:{delivery_id}", {})
        state.wake.set()
    return RedirectResponse("/console/admin#deliveries", status_code=303)


@router.post("/banks/{name}/import")
def import_bank(request: Request, name: str, form: StaffForm = Depends(bank_form)) -> Response:
    staff, values = form.staff, form.values
    upload = form.files.get("file")
    if upload is None:
        return _overview(request, staff, message=_("Choose a file to upload."), status=422)
    fmt = bank_files.BankFormat.from_path(PurePath(upload.filename or "x.txt"))
    items = bank_files.iter_entries(
        upload_lines(upload),
        fmt,
        signal_type=values.get("signal_type") or None,
        added_by=staff.actor,
    )
    try:
        with app_state(request).db.write() as db:
            bank = bank_service.get_bank(db, name)
            summary = bank_service.import_entries(
                db,
                bank,
                items,
                actor=staff.actor,
                skip_bad=values.get("skip_bad") == "on",
                source_name=(upload.filename or "")[:200],
            )
    except bank_service.BankFileRejected as rejected:
        return _overview(
            request, staff, message=str(rejected), problems=rejected.summary.skipped, status=422
        )
    except (bank_service.BankError, ValueError) as exc:
        return _overview(request, staff, message=str(exc), status=422)
    state = app_state(request)
    state.index.catch_up(state.db)
    message = _("Imported") + f" {summary.added}; " + _("skipped") + f" {summary.skipped_count}."
    return _overview(request, staff, message=message, problems=summary.skipped)


@router.post("/banks")
def add_bank(request: Request, form: StaffForm = Depends(bank_form)) -> Response:
    staff, values = form.staff, form.values
    try:
        with app_state(request).db.write() as db:
            bank_service.create_bank(
                db,
                values.get("name", "").strip(),
                action=values.get("action", "block"),
                description=values.get("description", "")[:2000],
                actor=staff.actor,
            )
    except bank_service.BankError as exc:
        return _overview(request, staff, message=str(exc), status=422)
    return RedirectResponse("/console/admin#banks", status_code=303)


@router.get("/banks/{name}", response_class=HTMLResponse)
def bankrender(request: Request, name: str, after: int = 0) -> Response:
    staff = admin_page(request, banks=True)
    if isinstance(staff, Response):
        return staff
    with app_state(request).db.read() as db:
        try:
            bank = bank_service.get_bank(db, name)
        except bank_service.BankError:
            return forbidden(request, staff, _("No such bank."))
        entries = bank_service.list_entries(db, bank, after=after, limit=100)
        scans = recent_scans(db, bank=bank.name, limit=10)
    return render(
        request,
        "console/bank.html",
        {"staff": staff, "bank": bank, "entries": entries, "retro_scans": scans},
    )


@router.post("/banks/{name}/entries/{entry_id}/disable")
def disable_entry(
    request: Request, name: str, entry_id: int, form: StaffForm = Depends(bank_form)
) -> Response:
    staff, values = form.staff, form.values
    with app_state(request).db.write() as db:
        bank = bank_service.get_bank(db, name)
        bank_service.set_entry_enabled(
            db,
            bank,
            entry_id,
            False,
            actor=staff.actor,
            reason=values.get("reason", "false positive")[:500],
        )
    state = app_state(request)
    state.index.catch_up(state.db)
    return RedirectResponse(f"/console/admin/banks/{name}", status_code=303)
