"""Who is signed in to the console, and the gate every console form passes.

A console form is read in the event loop (``await request.form()``), and nothing else there is:
the gate is a FastAPI dependency that reads the form, finds the signed-in person (a database
read, in a thread) and checks the CSRF token; the route itself is a plain ``def``, so its
database writes, hashing and calls to NCMEC run in the thread pool and never stall the other
requests of the worker. A request that fails the gate is answered by :class:`PageAnswer`
(sign in, or a 403 page saying why), the same answer for every form.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import UploadFile

from takedown.api.state import app_state
from takedown.auth import access
from takedown.auth.access import Resource
from takedown.auth.scopes import Role
from takedown.cases.machine import Reviewer
from takedown.cases.vocabulary import StaffRole
from takedown.store.models import User
from takedown.web.session import StaffSession, same
from takedown.web.templating import _, render

EXPIRED = _("The form expired; reload the page.")


def wellness_of(user: User, break_minutes: float) -> dict[str, Any]:
    """The reviewer's viewing settings over the defaults: blurred, grayscale, no autoplay, no
    sound, shortcuts on, a break reminder after the configured time."""
    defaults: dict[str, Any] = {
        "blur": 24,
        "grayscale": True,
        "autoplay": False,
        "audio": False,
        "shortcuts": True,
        "break_minutes": break_minutes,
        "categories": {},
    }
    return {**defaults, **(user.wellness or {})}


class Staff:
    def __init__(self, user: User, session: StaffSession, break_minutes: float = 0.0) -> None:
        self.user = user
        self.session = session
        self.role = StaffRole(user.role)
        self.reviewer = Reviewer(user.id, self.role)
        self.wellness = wellness_of(user, break_minutes)

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


def signed_in(request: Request) -> Staff | None:
    """The person whose live session cookie came with the request (a disabled account, or a
    session older than the account's last sign-out everywhere, is no one)."""
    state = app_state(request)
    session = state.sessions.load(request)
    if session is None:
        return None
    with state.db.read() as db:
        user = db.get(User, session.user_id)
    if user is None or user.disabled or user.session_epoch != session.epoch:
        return None
    return Staff(user, session, state.settings.break_reminder_minutes)


def login_redirect() -> Response:
    return RedirectResponse("/console/login", status_code=303)


def forbidden(request: Request, staff: Staff | None, message: str) -> Response:
    return render(
        request, "console/error.html", {"staff": staff, "code": 403, "message": message}, 403
    )


class PageAnswer(Exception):
    """A gate's answer instead of the page (sign in, refused): :func:`install` returns it."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


def install(app: FastAPI) -> None:
    """Answer a failed gate with the response it carries."""

    async def answer(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, PageAnswer)
        return exc.response

    app.add_exception_handler(PageAnswer, answer)


async def form_values(request: Request) -> dict[str, str]:
    """The form's text fields. A console form carries one file at most (a bank import)."""
    form = await request.form(max_files=1)
    return {k: str(v) for k, v in form.items() if isinstance(v, str)}


async def form_files(request: Request) -> dict[str, UploadFile]:
    """The form's files (parsed once: the same form as :func:`form_values`). Starlette's
    ``UploadFile``: the form holds those, not FastAPI's subclass."""
    form = await request.form(max_files=1)
    return {k: v for k, v in form.items() if isinstance(v, UploadFile)}


def checked_form(staff: Staff, values: dict[str, str]) -> dict[str, str] | None:
    """``values`` when they carry this session's CSRF token, else None."""
    return values if same(values.get("csrf_token"), staff.session.csrf) else None


@dataclass(frozen=True)
class StaffForm:
    """A form sent by a signed-in person, its CSRF token checked."""

    staff: Staff
    values: dict[str, str]
    files: dict[str, UploadFile]


def staff_form_of(
    allowed: Callable[[Staff], bool] | None = None, refusal: str = ""
) -> Callable[[Request], Coroutine[Any, Any, StaffForm]]:
    """A dependency: the signed-in person's checked form; with ``allowed``, only for the people
    it allows (others get a 403 page saying ``refusal``)."""

    async def gate(request: Request) -> StaffForm:
        staff = await run_in_threadpool(signed_in, request)
        if staff is None:
            raise PageAnswer(login_redirect())
        if allowed is not None and not allowed(staff):
            raise PageAnswer(forbidden(request, staff, refusal))
        values = checked_form(staff, await form_values(request))
        if values is None:
            raise PageAnswer(forbidden(request, staff, EXPIRED))
        return StaffForm(staff, values, await form_files(request))

    return gate


staff_form = staff_form_of()
"""The dependency for a form any signed-in person may send."""
