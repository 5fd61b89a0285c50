"""HMA's exchange routes over takedown's exchanges (``takedown.exchanges``): the exchange APIs
and their credentials, create, list, show, fetch status, enable/disable and delete. HMA names
an exchange like a bank (upper case) and an exchange's bank is itself: takedown's exchange
``ncmec_hashes`` filling bank ``ncmec_hashes`` is HMA's ``NCMEC_HASHES``. HMA's exchange APIs
are python-threatexchange's names for takedown's kinds (``fb_threatexchange`` is
``threatexchange``); credentials set on an API serve every exchange of that kind that has
none of its own, sealed like an exchange's. The same scope guards every route:
``exchanges:admin``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Request

from takedown import exchanges
from takedown.api.errors import ApiError
from takedown.api.hma import auth as gate
from takedown.api.hma import ids
from takedown.api.hma.inputs import bad, json_object
from takedown.api.routes import exchanges as v1_exchanges
from takedown.api.state import app_state
from takedown.auth.accounts import Principal
from takedown.exchanges import ExchangeKind
from takedown.service import exchanges as exchange_service
from takedown.service import hma_content
from takedown.service.banks import BankError
from takedown.service.exchanges import ExchangeView

router = APIRouter(tags=["HMA: exchanges"])

HMA_API_NAMES: dict[str, str] = {
    "threatexchange": "fb_threatexchange",
    "ncmec": "ncmec",
    "stopncii": "stop_ncii",
}
"""takedown's kind -> HMA's exchange API name (python-threatexchange's); takedown's other kinds
(hash lists, takedown feeds) keep their own names."""

HMA_CREDENTIAL_FIELDS: dict[str, dict[str, str]] = {"threatexchange": {"api_token": "access_token"}}
"""HMA's credential field -> takedown's, where the two differ."""

HMA_CONFIG_FIELDS = frozenset({"name", "api", "enabled"})
"""The fields of HMA's ``api_json`` that are not the exchange's options."""


def _apis() -> dict[str, ExchangeKind]:
    return {HMA_API_NAMES.get(kind.name, kind.name): kind for kind in exchanges.all_kinds()}


def _api(name: str) -> ExchangeKind:
    kind = _apis().get(name)
    if kind is None:
        raise bad(f"no such Exchange API '{name}'", "exchange_api_not_found")
    return kind


def _option(value: Any) -> str:
    """An HMA config value as a takedown option (a list of ids comma-joined)."""
    if isinstance(value, (list, tuple, set)):
        return ",".join(str(v) for v in value)
    return str(value)


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
        "api": HMA_API_NAMES.get(view.kind, view.kind),
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
def exchange_update(
    name: str,
    request: Request,
    principal: Principal = Depends(gate.EXCHANGES_ADMIN),
    body: dict[str, Any] = Depends(json_object),
) -> dict[str, Any]:
    """``{"enabled": false}`` stops fetching (its entries keep matching: disable the bank to
    stop that); answers the exchange's config."""
    view = _find(request, name)
    enabled = body.get("enabled")
    if enabled is not None and not isinstance(enabled, bool):
        raise bad("enabled must be true or false", "invalid_field")
    if enabled is not None:
        with app_state(request).db.write() as session:
            hma_content.set_exchange_enabled(session, view.name, enabled, principal.actor)
    return _config(_find(request, name))


@router.delete("/c/exchange/{name}")
def exchange_delete(
    name: str,
    request: Request,
    principal: Principal = Depends(gate.EXCHANGES_ADMIN),
) -> dict[str, Any]:
    """Stop fetching and forget the exchange (as HMA, deleting one that does not exist
    succeeds). Its entries stay in its bank: delete or disable the bank to stop them."""
    state = app_state(request)
    with state.db.write() as session:
        for row_view in exchange_service.views(session):
            if ids.hma_bank(row_view.name) == name:
                row = exchange_service.get_exchange(session, row_view.name)
                exchange_service.remove_exchange(session, row, actor=principal.actor)
    return {"message": "success"}


@router.post("/c/exchanges", status_code=201)
def exchange_create(
    request: Request,
    principal: Principal = Depends(gate.EXCHANGES_ADMIN),
    body: dict[str, Any] = Depends(json_object),
) -> dict[str, Any]:
    """HMA's ``{"bank": "NAME", "api": "<exchange API>", "api_json": {...}}``: an exchange of
    that kind filling bank NAME, ``api_json`` its options (``privacy_group``,
    ``environment``...) and ``enabled``."""
    bank = body.get("bank")
    if not isinstance(bank, str) or not ids.valid_bank_name(bank):
        raise bad("Field `bank` must match /^[A-Z0-9_]$/", "invalid_bank_name")
    api_json = body.get("api_json", {})
    if not isinstance(api_json, dict):
        raise bad("Field `api_json` must be object", "invalid_field")
    api = body.get("api")
    if api is None:
        raise bad("Field `api_type` is required", "missing_parameter")
    if not isinstance(api, str) or api not in _apis():
        raise bad(f"No such exchange type '{api}'", "exchange_api_not_found")
    enabled = api_json.get("enabled", True)
    if not isinstance(enabled, bool):
        raise bad("enabled must be true or false", "invalid_field")
    spec = exchange_service.ExchangeSpec(
        name=ids.takedown_bank(bank),
        kind=_apis()[api].name,
        bank=ids.takedown_bank(bank),
        options={
            str(k): _option(v)
            for k, v in api_json.items()
            if k not in HMA_CONFIG_FIELDS and v is not None
        },
        enabled=enabled,
    )
    state = app_state(request)
    try:
        with state.db.write() as session:
            v1_exchanges.create_as(state, session, spec, principal)
    except BankError as refused:
        raise bad(str(refused), refused.code) from None
    return {"message": "Created successfully"}


@router.get("/c/exchanges/apis")
def exchange_api_list(
    request: Request, principal: Principal = Depends(gate.EXCHANGES_ADMIN)
) -> list[str]:
    return list(_apis())


def _api_config(request: Request, kind: ExchangeKind) -> dict[str, bool]:
    with app_state(request).db.read() as session:
        has = exchange_service.kind_has_credentials(session, kind.name)
    return {
        "supports_authentification": bool(kind.credential_fields),
        "has_set_authentification": has,
    }


@router.get("/c/exchanges/api/{api_name}")
def exchange_api_config(
    api_name: str, request: Request, principal: Principal = Depends(gate.EXCHANGES_ADMIN)
) -> dict[str, bool]:
    return _api_config(request, _api(api_name))


@router.post("/c/exchanges/api/{api_name}")
def exchange_api_update(
    api_name: str,
    request: Request,
    principal: Principal = Depends(gate.EXCHANGES_ADMIN),
    body: dict[str, Any] = Depends(json_object),
) -> dict[str, bool]:
    """``{"credential_json": {...}}`` sets the API's credentials (HMA's field names, e.g.
    ThreatExchange's ``api_token``); ``{}`` clears them. Never answered back."""
    kind = _api(api_name)
    given = body.get("credential_json")
    if given is not None:
        if not isinstance(given, dict):
            raise bad("credential_json must be an object", "invalid_field")
        renamed = HMA_CREDENTIAL_FIELDS.get(kind.name, {})
        credentials = {
            renamed.get(str(k), str(k)): str(v)
            for k, v in given.items()
            if v is not None and renamed.get(str(k), str(k)) in kind.credential_fields
        }
        if given and not credentials:
            hma_names = {ours: theirs for theirs, ours in renamed.items()}
            expected = ", ".join(hma_names.get(f, f) for f in kind.credential_fields)
            raise bad(f"no credential field of {api_name}: expected {expected}", "invalid_field")
        state = app_state(request)
        with state.db.write() as session:
            exchange_service.set_kind_credentials(
                session,
                kind.name,
                credentials,
                secret=state.secret,
                actor=principal.actor,
                now=state.now(),
            )
    return _api_config(request, kind)
