"""Console page for sharing confirmed hashes back: one switch per (target, category), and the
feed's public key to give to a subscriber. Admins only; the same service calls as the API."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from takedown.api.routes.exchange_feed import signing_key
from takedown.api.state import app_state
from takedown.exchanges.feed_format import feed_key
from takedown.service import sharing
from takedown.web.admin import admin_form, admin_page
from takedown.web.staff import StaffForm
from takedown.web.templating import render

router = APIRouter(prefix="/console/admin/sharing", include_in_schema=False)


def _page(request: Request, message: str = "", status: int = 200) -> Response:
    staff = admin_page(request)
    if isinstance(staff, Response):
        return staff
    state = app_state(request)
    with state.db.read() as db:
        settings = sharing.settings(db)
        held, events = sharing.feed_counts(db)
    targets = list(dict.fromkeys(s.target for s in settings))
    switches = {(s.target, s.category): s for s in settings}
    return render(
        request,
        "console/sharing.html",
        {
            "staff": staff,
            "targets": targets,
            "categories": sharing.CATEGORIES,
            "switches": switches,
            "feed_held": held,
            "feed_events": events,
            "key": feed_key(signing_key(state.settings.home)),
            "message": message,
        },
        status=status,
    )


@router.get("", response_class=HTMLResponse)
def sharing_page(request: Request) -> Response:
    return _page(request)


@router.post("/{target}/{category}")
def toggle(
    request: Request, target: str, category: str, form: StaffForm = Depends(admin_form)
) -> Response:
    staff, values = form.staff, form.values
    state = app_state(request)
    try:
        with state.db.write() as db:
            sharing.set_sharing(
                db,
                target,
                category,
                values.get("enabled") == "1",
                actor=staff.actor,
                now=state.now(),
            )
    except sharing.SharingError as exc:
        return _page(request, message=str(exc), status=exc.status)
    return RedirectResponse("/console/admin/sharing", status_code=303)
