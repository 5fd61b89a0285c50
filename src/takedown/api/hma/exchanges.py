"""HMA's exchange routes over takedown's exchanges (``takedown.exchanges``): list, show,
fetch status and enable/disable. HMA names an exchange like a bank (upper case); takedown's
exchange ``ncmec_hashes`` is HMA's ``NCMEC_HASHES``. Creating an exchange and setting its
credentials stay on ``/v1/exchanges`` (takedown's kinds and sealed credentials, not HMA's
python-threatexchange APIs). The same scope guards both: ``exchanges:admin``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Request

from takedown.api.errors import ApiError
from takedown.api.hma import auth as gate
from takedown.api.hma import ids
from takedown.api.hma.inputs import bad, json_object
from takedown.api.state import app_state
from takedown.auth.accounts import Principal
from takedown.service import exchanges as exchange_service
from takedown.service import hma_content
from takedown.service.exchanges import ExchangeView

router = APIRouter(tags=["HMA: exchanges"])


def _ts(moment: datetime | None) -> int | None:
    return int(moment.timestamp()) if moment is not None else None


def _find(request: Request, name: str) -> ExchangeView:
    with app_state(request).db.read() as session:
        for view in exchange_service.views(session):
            if ids.hma_bank(view.name) == name:
                return view
    raise ApiError(404, "exchange_not_found", f"Exchange '{name}' not found")


def _config(view: ExchangeView) -> dict[str, Any]:
    """HMA's exchange config: name, api, enabled, then the API's own fields (here the
    exchange's options), and which credentials it has (never their values)."""
    return {
        **view.options,
        "name": ids.hma_bank(view.name),
        "api": view.kind,
        "enabled": view.enabled,
        "bank": ids.hma_bank(view.bank),
        "credential_status": {
            "supports_auth": True,
            "has_credentials": view.has_credentials,
            "source": "exchange" if view.has_credentials else None,
        },
    }


@router.get("/c/exchanges")
def exchange_list(
    request: Request, principal: Principal = Depends(gate.EXCHANGES_ADMIN)
) -> list[str]:
    with app_state(request).db.read() as session:
        return [ids.hma_bank(v.name) for v in exchange_service.views(session)]


@router.get("/c/exchange/{name}")
def exchange_show(
    name: str,
    request: Request,
    principal: Principal = Depends(gate.EXCHANGES_ADMIN),
) -> dict[str, Any]:
    return _config(_find(request, name))


@router.get("/c/exchange/{name}/status")
def exchange_status(
    name: str,
    request: Request,
    principal: Principal = Depends(gate.EXCHANGES_ADMIN),
) -> dict[str, Any]:
    """HMA's fetch status (its schema's ``last_fetch_time``, ``checkpoint_time``, ``success``
    and its storage's ``FetchStatus`` fields), from the exchange's last runs."""
    view = _find(request, name)
    succeeded = view.last_error == "" if view.last_attempt_at is not None else None
    running = view.state == "running"
    return {
        "last_fetch_time": _ts(view.last_attempt_at) or 0,
        "checkpoint_time": _ts(view.last_success_at) or 0,
        "success": bool(succeeded),
        "checkpoint_ts": _ts(view.last_success_at),
        "running_fetch_start_ts": _ts(view.run_started_at) if running else None,
        "last_fetch_complete_ts": _ts(view.last_success_at or view.last_error_at),
        "last_fetch_succeeded": succeeded,
        "up_to_date": bool(succeeded) and not running,
        "fetched_items": view.entries,
    }


@router.put("/c/exchange/{name}")
async def exchange_update(
    name: str,
    request: Request,
    principal: Principal = Depends(gate.EXCHANGES_ADMIN),
) -> dict[str, Any]:
    """``{"enabled": false}`` stops fetching (its entries keep matching: disable the bank to
    stop that); answers the exchange's config."""
    view = _find(request, name)
    body = await json_object(request)
    enabled = body.get("enabled")
    if enabled is not None and not isinstance(enabled, bool):
        raise bad("enabled must be true or false", "invalid_field")
    if enabled is not None:
        with app_state(request).db.write() as session:
            hma_content.set_exchange_enabled(session, view.name, enabled, principal.actor)
    return _config(_find(request, name))
