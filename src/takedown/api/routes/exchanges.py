"""Hash-sharing exchanges: add, list, fetch on demand, remove (scope ``exchanges:admin``).

Credentials go in once and never come back out: answers say only whether they are set."""

from __future__ import annotations

import threading
from dataclasses import asdict
from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from takedown.actions.addresses import Networks
from takedown.api.errors import ApiError
from takedown.api.security import require
from takedown.api.state import AppState, app_state
from takedown.auth.accounts import Principal
from takedown.auth.scopes import Scope, allows
from takedown.service import exchange_fetch
from takedown.service import exchanges as exchange_service

router = APIRouter(prefix="/v1/exchanges", tags=["exchanges"])

NAME = Field(min_length=1, max_length=100, pattern=r"^[a-z0-9][a-z0-9_.-]{0,99}$")


class ExchangeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = NAME
    kind: str = Field(min_length=1, max_length=40, examples=["hash_list", "ncmec", "takedown"])
    bank: str = Field(min_length=1, max_length=100, description="The bank the feed fills")
    action: Literal["block", "hold"] | None = Field(
        None, description="The bank's action (a new bank: block); an existing bank keeps its own"
    )
    threshold: int | None = Field(
        None, ge=0, le=128, description="The bank's PDQ threshold (at most 31 from here)"
    )
    options: dict[str, str] = Field(default_factory=dict, max_length=20)
    credentials: dict[str, str] = Field(
        default_factory=dict, max_length=20, description="Stored encrypted; never returned"
    )
    schedule_s: int = Field(3600, ge=60, le=7 * 24 * 3600)
    enabled: bool = True
    allow_protected_bank: bool = Field(
        False,
        description="Let the feed fill a bank that routes cases (confirmed-*, the watch bank, "
        "a child-abuse bank); needs banks:write",
    )


ExchangeOut = exchange_service.ExchangeView
"""An exchange as the API answers it: the view staff see everywhere (never credentials)."""


class FetchOut(BaseModel):
    status: str = Field(description="done, failed, stopped, busy, interrupted or started")
    pages: int = 0
    added: int = 0
    removed: int = 0
    updated: int = 0
    error: str = ""
    retry_at: datetime | None = None
    exchange: ExchangeOut


class RemovedOut(BaseModel):
    name: str
    entries_kept: int


@router.post("", response_model=ExchangeOut, status_code=201)
def create_exchange(
    body: ExchangeIn,
    request: Request,
    principal: Principal = Depends(require(Scope.EXCHANGES_ADMIN)),
) -> ExchangeOut:
    state = app_state(request)
    spec = exchange_service.ExchangeSpec(**body.model_dump())
    with state.db.write() as session:
        create_as(state, session, spec, principal)
        return exchange_service.view_of(session, body.name)


def create_as(
    state: AppState, session: Session, spec: exchange_service.ExchangeSpec, principal: Principal
) -> None:
    """:func:`create` for an API caller (a key, or a person's token): their scopes and name."""
    create(
        state,
        session,
        spec,
        principal.scopes,
        staff=principal.user_id is not None,
        actor=principal.actor,
    )


def create(
    state: AppState,
    session: Session,
    spec: exchange_service.ExchangeSpec,
    scopes: frozenset[Scope],
    *,
    staff: bool,
    actor: str,
) -> None:
    """Create the exchange with what the caller may do to banks (``BankRights``): the one
    path of ``/v1/exchanges``, HMA's ``POST /c/exchanges`` and the console's form."""
    rights = exchange_service.BankRights(
        may_write_banks=allows(scopes, Scope.BANKS_WRITE, staff=staff),
        protected=exchange_service.protected_banks(
            state.policy.watch_bank, state.policy.child_abuse_banks
        ),
    )
    exchange_service.create_exchange(
        session,
        spec,
        secret=state.secret,
        actor=actor,
        now=state.now(),
        rights=rights,
        networks=Networks.from_settings(state.settings),
    )
    session.flush()


@router.get("", response_model=list[ExchangeOut])
def list_exchanges(
    request: Request, principal: Principal = Depends(require(Scope.EXCHANGES_ADMIN))
) -> list[ExchangeOut]:
    with app_state(request).db.read() as session:
        return exchange_service.views(session)


@router.get("/{name}", response_model=ExchangeOut)
def get_exchange(
    name: str, request: Request, principal: Principal = Depends(require(Scope.EXCHANGES_ADMIN))
) -> ExchangeOut:
    with app_state(request).db.read() as session:
        return exchange_service.view_of(session, name)


def _fetch(state: AppState, name: str) -> exchange_fetch.FetchResult:
    return exchange_fetch.fetch_exchange(
        state.db,
        name,
        secret=state.secret,
        stop=state.stop,
        now=state.now,
        force=True,
        networks=Networks.from_settings(state.settings),
    )


@router.post("/{name}/fetch", response_model=FetchOut, status_code=202)
def fetch_exchange(
    name: str,
    request: Request,
    wait: bool = Query(False, description="Answer when the fetch has ended (else at once)"),
    principal: Principal = Depends(require(Scope.EXCHANGES_ADMIN)),
) -> FetchOut:
    """Fetch now, from the stored checkpoint; also retries an exchange whose credentials were
    refused. Without ``wait`` the fetch runs in the background: follow it with GET."""
    state = app_state(request)
    with state.db.write() as session:
        row = exchange_service.get_exchange(session, name)
        exchange_service.request_fetch(session, row, actor=principal.actor, now=state.now())
    if wait:
        result = _fetch(state, name)
        if result.status == "busy":
            raise ApiError(409, "exchange_busy", f"a fetch of {name!r} is already running")
        fields = asdict(result)
        fields.pop("exchange")
    else:
        threading.Thread(
            target=_fetch, args=(state, name), name=f"exchange-fetch-{name}", daemon=True
        ).start()
        fields = {"status": "started"}
    with state.db.read() as session:
        return FetchOut(**fields, exchange=exchange_service.view_of(session, name))


@router.delete("/{name}", response_model=RemovedOut)
def remove_exchange(
    name: str, request: Request, principal: Principal = Depends(require(Scope.EXCHANGES_ADMIN))
) -> RemovedOut:
    """Stop and forget the exchange; the entries it brought stay in its bank."""
    state = app_state(request)
    with state.db.write() as session:
        row = exchange_service.get_exchange(session, name)
        if row.lease_until is not None and row.lease_until > state.now():
            raise ApiError(409, "exchange_busy", f"a fetch of {name!r} is running; try later")
        kept = exchange_service.remove_exchange(session, row, actor=principal.actor)
    return RemovedOut(name=name, entries_kept=kept)


class CredentialsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    credentials: dict[str, str] = Field(max_length=20)


@router.put("/{name}/credentials", response_model=ExchangeOut)
def set_credentials(
    name: str,
    body: CredentialsIn,
    request: Request,
    principal: Principal = Depends(require(Scope.EXCHANGES_ADMIN)),
) -> ExchangeOut:
    """Replace the credentials; an exchange stopped by refused credentials is tried again."""
    state = app_state(request)
    with state.db.write() as session:
        row = exchange_service.get_exchange(session, name)
        exchange_service.set_credentials(
            session,
            row,
            body.credentials,
            secret=state.secret,
            actor=principal.actor,
            now=state.now(),
        )
        session.flush()
        return exchange_service.view_of(session, name)
