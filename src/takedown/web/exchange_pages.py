"""Console page of the hash-sharing exchanges (admins): status and progress of each fetch,
adding one, fetching now, replacing credentials, removing. The same service functions as
``/v1/exchanges``; credentials are typed into password fields and never shown again."""

from __future__ import annotations

import threading
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from takedown import exchanges
from takedown.actions.addresses import Networks
from takedown.api.routes import exchanges as v1_exchanges
from takedown.api.state import app_state
from takedown.auth.scopes import ROLE_SCOPES
from takedown.service import exchange_fetch
from takedown.service import exchanges as exchange_service
from takedown.web.admin import admin_form, admin_page
from takedown.web.staff import Staff, StaffForm
from takedown.web.templating import _, render

router = APIRouter(prefix="/console/admin/exchanges", include_in_schema=False)

CREDENTIAL_SLOTS = 3


def _page(request: Request, staff: Staff, message: str = "", status: int = 200) -> Response:
    with app_state(request).db.read() as session:
        views = exchange_service.views(session)
    return render(
        request,
        "console/exchanges.html",
        {
            "staff": staff,
            "exchanges": views,
            "kinds": exchanges.all_kinds(),
            "slots": range(CREDENTIAL_SLOTS),
            "refresh": any(v.state == exchange_fetch.FETCHING for v in views),
            "message": message,
        },
        status,
    )


@router.get("", response_class=HTMLResponse)
def exchanges_page(request: Request) -> Response:
    staff = admin_page(request)
    if isinstance(staff, Response):
        return staff
    return _page(request, staff)


def _lines(text: str) -> dict[str, str]:
    """``key=value`` lines (the options box)."""
    pairs: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip():
            pairs[key.strip()] = value.strip()
    return pairs


def _credentials(values: dict[str, Any]) -> dict[str, str]:
    found: dict[str, str] = {}
    for slot in range(CREDENTIAL_SLOTS):
        field = str(values.get(f"credential_name_{slot}", "")).strip()
        if field:
            found[field] = str(values.get(f"credential_value_{slot}", ""))
    return found


@router.post("")
def add_exchange(request: Request, form: StaffForm = Depends(admin_form)) -> Response:
    staff, values = form.staff, form.values
    state = app_state(request)
    try:
        schedule = int(values.get("schedule_s", "3600") or 3600)
    except ValueError:
        return _page(request, staff, _("The schedule is a number of seconds."), 422)
    spec = exchange_service.ExchangeSpec(
        name=values.get("name", "").strip(),
        kind=values.get("kind", "").strip(),
        bank=values.get("bank", "").strip(),
        action=values.get("action") or None,
        options=_lines(values.get("options", "")),
        credentials=_credentials(values),
        schedule_s=schedule,
        allow_protected_bank=values.get("allow_protected_bank") == "on",
    )
    try:
        with state.db.write() as session:
            v1_exchanges.create(
                state,
                session,
                spec,
                frozenset(ROLE_SCOPES[staff.access_role]),
                staff=True,
                actor=staff.actor,
            )
    except exchange_service.ExchangeConfigError as exc:
        return _page(request, staff, str(exc), exc.status)
    return RedirectResponse("/console/admin/exchanges", status_code=303)


@router.post("/{name}/fetch")
def fetch_now(request: Request, name: str, form: StaffForm = Depends(admin_form)) -> Response:
    staff = form.staff
    state = app_state(request)
    try:
        with state.db.write() as session:
            row = exchange_service.get_exchange(session, name)
            exchange_service.request_fetch(session, row, actor=staff.actor, now=state.now())
    except exchange_service.ExchangeConfigError as exc:
        return _page(request, staff, str(exc), exc.status)
    threading.Thread(
        target=exchange_fetch.fetch_exchange,
        args=(state.db, name),
        kwargs={
            "secret": state.secret,
            "stop": state.stop,
            "now": state.now,
            "force": True,
            "networks": Networks.from_settings(state.settings),
        },
        name=f"exchange-fetch-{name}",
        daemon=True,
    ).start()
    return RedirectResponse("/console/admin/exchanges", status_code=303)


@router.post("/{name}/credentials")
def set_credentials(request: Request, name: str, form: StaffForm = Depends(admin_form)) -> Response:
    staff, values = form.staff, form.values
    state = app_state(request)
    try:
        with state.db.write() as session:
            row = exchange_service.get_exchange(session, name)
            exchange_service.set_credentials(
                session,
                row,
                _credentials(values),
                secret=state.secret,
                actor=staff.actor,
                now=state.now(),
            )
    except exchange_service.ExchangeConfigError as exc:
        return _page(request, staff, str(exc), exc.status)
    return RedirectResponse("/console/admin/exchanges", status_code=303)


@router.post("/{name}/remove")
def remove(request: Request, name: str, form: StaffForm = Depends(admin_form)) -> Response:
    staff = form.staff
    state = app_state(request)
    try:
        with state.db.write() as session:
            row = exchange_service.get_exchange(session, name)
            if row.lease_until is not None and row.lease_until > state.now():
                return _page(request, staff, _("A fetch is running; remove it afterwards."), 409)
            exchange_service.remove_exchange(session, row, actor=staff.actor)
    except exchange_service.ExchangeConfigError as exc:
        return _page(request, staff, str(exc), exc.status)
    return RedirectResponse("/console/admin/exchanges", status_code=303)
