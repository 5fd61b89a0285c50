"""HMA's curation routes: banks, bank content (by URL, upload or signals, with metadata and a
note), and the signal and content types."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from takedown.api.errors import ApiError
from takedown.api.hma import auth as gate
from takedown.api.hma import ids, media
from takedown.api.hma.inputs import (
    bad,
    is_multipart,
    json_body,
    json_object,
    selected_signal_types,
    upload,
)
from takedown.api.json_input import BadJson, parse_json
from takedown.api.state import AppState, app_state
from takedown.auth.accounts import Principal
from takedown.auth.scopes import Scope, allows
from takedown.matching import banks as bank_files
from takedown.media import MediaLimits
from takedown.service import hma_content
from takedown.service.banks import BankError
from takedown.service.references import reference_entries, reference_signals
from takedown.signals import InvalidSignal
from takedown.store.models import Bank

router = APIRouter(tags=["HMA: curation"])

NOTE_MAX = 255


class ContentMetadata(BaseModel):
    """HMA's ``BankedContentMetadata``: unknown keys are refused (400), as HMA does."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")
    content_id: str | None = Field(None, max_length=500)
    content_uri: str | None = Field(None, max_length=2000)
    json_data: dict[str, Any] | None = Field(None, alias="json")
    collab: dict[str, list[str]] | None = None


def _not_found(name: str) -> ApiError:
    return ApiError(404, "bank_not_found", f"bank '{name}' not found")


def _bank(state: AppState, name: str) -> hma_content.BankView:
    with state.db.read() as session:
        found = hma_content.find_bank(session, name)
    if found is None:
        raise _not_found(name)
    return found[1]


def _ratio(value: object, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise bad(f"{field} must be a number from 0.0 to 1.0", "invalid_field")
    return float(value)


# ---- banks ----


@router.get("/c/banks")
def banks_index(
    request: Request, principal: Principal = Depends(gate.BANKS_READ)
) -> list[dict[str, Any]]:
    with app_state(request).db.read() as session:
        return [b.to_json() for b in hma_content.list_banks(session)]


@router.get("/c/bank/{name}")
def bank_show(
    name: str, request: Request, principal: Principal = Depends(gate.BANKS_READ)
) -> dict[str, Any]:
    return _bank(app_state(request), name).to_json()


@router.post("/c/banks", status_code=201)
async def bank_create(
    request: Request, principal: Principal = Depends(gate.BANKS_WRITE)
) -> dict[str, Any]:
    """``{"name": "MY_BANK", "enabled_ratio": 1.0}`` (or ``"enabled": false``) -> 201."""
    body = await json_object(request)
    name = body.get("name")
    if not isinstance(name, str) or not ids.valid_bank_name(name):
        raise bad(
            "Bank names must be UPPER_WITH_UNDERSCORE and not start with a digit "
            "(/^[A-Z][A-Z0-9_]{0,99}$/)",
            "invalid_bank_name",
        )
    if body.get("enabled_ratio") is not None:
        ratio = _ratio(body["enabled_ratio"], "enabled_ratio")
    elif body.get("enabled") is not None:
        ratio = 1.0 if body["enabled"] else 0.0
    else:
        ratio = 1.0
    state = app_state(request)

    def create() -> dict[str, Any]:
        with state.db.write() as session:
            if hma_content.find_bank(session, name) is not None:
                raise ApiError(403, "bank_exists", "Bank already exists")
            try:
                return hma_content.create_bank(session, name, ratio, principal.actor).to_json()
            except BankError as exc:
                if exc.code == "bank_exists":
                    raise ApiError(403, "bank_exists", "Bank already exists") from None
                raise ApiError(400, exc.code, str(exc)) from None

    return await run_in_threadpool(create)


@router.put("/c/bank/{name}")
async def bank_update(
    name: str, request: Request, principal: Principal = Depends(gate.BANKS_WRITE)
) -> dict[str, Any]:
    """Rename (``name``), or set ``enabled`` / ``enabled_ratio`` (``matching_enabled_ratio``
    is read too). A ratio of 0 disables the takedown bank; above 0 enables it."""
    body = await json_object(request)
    new_name = body.get("name")
    if new_name is not None and (
        not isinstance(new_name, str) or not ids.valid_bank_name(new_name)
    ):
        raise bad("Bank names must be UPPER_WITH_UNDERSCORE", "invalid_bank_name")
    ratio: float | None = None
    if body.get("enabled") is not None:
        ratio = 1.0 if body["enabled"] else 0.0
    for field in ("enabled_ratio", "matching_enabled_ratio"):
        if body.get(field) is not None:
            ratio = _ratio(body[field], field)
    state = app_state(request)

    def change() -> dict[str, Any]:
        with state.db.write() as session:
            found = hma_content.find_bank(session, name)
            if found is None:
                raise ApiError(404, "bank_not_found", "Bank not found")
            try:
                view = hma_content.update_bank(
                    session, found[0], new_name=new_name, ratio=ratio, actor=principal.actor
                )
            except BankError as exc:
                raise ApiError(exc.status, exc.code, str(exc)) from None
            return view.to_json()

    return await run_in_threadpool(change)


@router.delete("/c/bank/{name}")
def bank_delete(
    name: str, request: Request, principal: Principal = Depends(gate.BANKS_WRITE)
) -> dict[str, str]:
    """200 whether or not the bank existed, as HMA. The bank is disabled and renamed, not
    erased (its entries stay on record for the audit trail)."""
    with app_state(request).db.write() as session:
        found = hma_content.find_bank(session, name)
        if found is not None:
            hma_content.delete_bank(session, found[0], principal.actor)
    return {"message": "Done"}


# ---- bank content ----


def _content_id(raw: str) -> int:
    """Flask's ``<int:content_id>``: anything else is no such route (404)."""
    if not raw.isdigit() or len(raw) > 18:
        raise ApiError(404, "content_not_found", f"content '{raw}' not found")
    return int(raw)


def _content_json(view: hma_content.ContentView, signals: dict[str, str] | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": view.id,
        "disable_until_ts": view.disable_until_ts,
        "original_media_uri": view.original_media_uri,
        "bank": view.bank.to_json(),
        "metadata": view.meta,
        "note": view.note,
    }
    if signals is not None:
        out["signals"] = signals
    return out


def _content(state: AppState, name: str, content_id: int) -> hma_content.ContentView:
    bank = _bank(state, name)
    with state.db.read() as session:
        view = hma_content.contents(session, [content_id]).get(content_id)
    if view is None or view.bank.id != bank.id:
        raise ApiError(404, "content_not_found", f"content '{content_id}' not found")
    return view


@router.get("/c/bank/{name}/content/{content_id}")
def bank_get_content(
    name: str,
    content_id: str,
    request: Request,
    principal: Principal = Depends(gate.BANKS_READ),
) -> dict[str, Any]:
    """One content. ``include_signals=true`` (or ``signal_type=pdq``, to see one type) adds
    its hashes, which needs ``banks:export`` as the hash lists of ``/v1`` do."""
    state = app_state(request)
    view = _content(state, name, _content_id(content_id))
    params = request.query_params
    only = params.get("signal_type")
    if only is not None and only not in ids.SIGNAL_TYPES:
        raise bad(f"No such signal type '{only}'", "unknown_signal_type")
    wanted = only is not None or params.get("include_signals", "false").lower() == "true"
    if not wanted:
        return _content_json(view, None)
    if not allows(principal.scopes, Scope.BANKS_EXPORT, staff=principal.user_id is not None):
        raise ApiError(403, "forbidden", "a content's hashes need the 'banks:export' scope")
    signals = {k: v for k, v in view.signals.items() if only is None or k == only}
    return _content_json(view, signals)


def _metadata(body: object) -> ContentMetadata | None:
    if not isinstance(body, dict) or body.get("metadata") is None:
        return None
    metadata = body["metadata"]
    if not isinstance(metadata, dict):
        raise bad("metadata should be a json object", "invalid_metadata")
    try:
        return ContentMetadata(**metadata)
    except ValidationError as exc:
        first = exc.errors()[0] if exc.errors() else {"msg": "invalid"}
        loc = ".".join(str(p) for p in first.get("loc", ()))
        raise bad(f"Invalid metadata: {loc}: {first.get('msg')}", "invalid_metadata") from None


def _note(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > NOTE_MAX:
        raise bad(f"note must be a string of at most {NOTE_MAX} characters", "invalid_note")
    return value


def _entries(
    hashes: dict[str, str], data: bytes | None, kind: str, limits: MediaLimits, label: str
) -> list[bank_files.BankEntry]:
    """What takedown banks of the content: for a photo, as a ``/v1`` reference (its turns,
    flips and crop grid, so altered copies match too); else the hashes HMA reports."""
    entries: list[bank_files.BankEntry] = []
    if data is not None and kind == "photo":
        signals = reference_signals(data, limits)
        entries = [
            e for e in reference_entries(signals, label, "hma", "") if e.signal_type == "pdq"
        ]
    seen = {(e.signal_type, e.value) for e in entries}
    for hma_type, value in hashes.items():
        signal_type = ids.SIGNAL_TYPES[hma_type]
        if (signal_type, value) not in seen:
            entries.insert(0, bank_files.BankEntry(signal_type, value, label, "hma", ""))
    return entries


async def _store(
    request: Request,
    principal: Principal,
    name: str,
    entries: list[bank_files.BankEntry],
    hashes: dict[str, str],
    metadata: ContentMetadata | None,
    note: str | None,
) -> dict[str, Any]:
    state = app_state(request)
    meta = metadata.model_dump(by_alias=True, exclude_none=True) if metadata else None

    def store() -> int:
        with state.db.write() as session:
            found = hma_content.find_bank(session, name)
            if found is None:
                raise _not_found(name)
            bank: Bank = found[0]
            added = hma_content.add_content(
                session, bank, entries, hashes, meta=meta, note=note, actor=principal.actor
            )
        state.index.catch_up(state.db)
        return added

    content_id = await run_in_threadpool(store)
    return {"id": content_id, "signals": hashes}


@router.post("/c/bank/{name}/content")
async def bank_add_content(
    name: str, request: Request, principal: Principal = Depends(gate.BANKS_WRITE)
) -> dict[str, Any]:
    """Add content by ``url`` (query) or an uploaded file (field ``photo`` or ``video``),
    with optional JSON ``{"metadata": {...}, "note": "..."}`` (form fields ``metadata`` and
    ``note`` with an upload). Answers ``{"id": 1, "signals": {"pdq": "..."}}``."""
    state = app_state(request)
    _bank(state, name)
    params = request.query_params
    url = params.get("url")
    body: object = None
    data: bytes | None
    if url:
        body = await json_body(request)
        hashes, data, kind = await media.fetched(
            state, url, params.get("content_type"), params.get("types")
        )
    elif is_multipart(request):
        got = await upload(request)
        if "metadata" in got.fields:
            try:
                body = {"metadata": parse_json(got.fields["metadata"].encode())}
            except BadJson:
                raise bad("metadata should be a json object", "invalid_metadata") from None
        if "note" in got.fields:
            body = {**(body if isinstance(body, dict) else {}), "note": got.fields["note"]}
        hashes = await media.from_upload(state, got, params.get("types"))
        data, kind = got.data, got.field
    else:
        raise bad("Neither `url` nor multipart file upload was received", "missing_content")
    metadata = _metadata(body)
    note = _note(body.get("note") if isinstance(body, dict) else None)
    if not hashes:
        raise bad("No signals given", "no_signals")
    label = (metadata.content_id if metadata and metadata.content_id else "")[:500]
    entries = await run_in_threadpool(_entries, hashes, data, kind, media.limits(state), label)
    return await _store(request, principal, name, entries, hashes, metadata, note)


@router.post("/c/bank/{name}/signal")
async def bank_add_signals(
    name: str, request: Request, principal: Principal = Depends(gate.BANKS_WRITE)
) -> dict[str, Any]:
    """Add one content by its hashes: ``{"pdq": "..."}`` -> ``{"id": 1, "signals": {...}}``."""
    _bank(app_state(request), name)
    body = await json_object(request)
    if not body:
        raise bad("No signals given", "no_signals")
    hashes: dict[str, str] = {}
    for hma_type, value in body.items():
        if hma_type not in ids.SIGNAL_TYPES:
            raise bad(f"No such signal type {hma_type}", "unknown_signal_type")
        if not isinstance(value, str):
            raise bad(f"Invalid {hma_type} signal: a string is required", "invalid_signal")
        try:
            hashes[hma_type] = bank_files.canonical_value(ids.SIGNAL_TYPES[hma_type], value)
        except InvalidSignal as exc:
            raise bad(f"Invalid {hma_type} signal: {exc}", "invalid_signal") from None
    entries = [
        bank_files.BankEntry(ids.SIGNAL_TYPES[t], v, "", "hma", "") for t, v in hashes.items()
    ]
    return await _store(request, principal, name, entries, hashes, None, None)


def _five_years_from_now() -> int:
    return int((datetime.now() + timedelta(days=365 * 5)).timestamp())


@router.put("/c/bank/{name}/content/{content_id}")
async def bank_update_content(
    name: str,
    content_id: str,
    request: Request,
    principal: Principal = Depends(gate.BANKS_WRITE),
) -> dict[str, Any]:
    """``{"disable_until_ts": ts}`` (1 enabled, 0 disabled, else a Unix time); takedown also
    reads ``{"enabled": bool}``."""
    state = app_state(request)
    number = _content_id(content_id)
    _content(state, name, number)
    body = await json_object(request)
    ts: int | None = None
    if "enabled" in body and isinstance(body["enabled"], bool):
        ts = hma_content.ENABLED if body["enabled"] else hma_content.DISABLED
    if "disable_until_ts" in body:
        raw = body["disable_until_ts"]
        try:
            ts = int(raw) if not isinstance(raw, bool) else None
        except (TypeError, ValueError):
            ts = None
        if ts is None:
            raise bad(f"Invalid int: '{raw}'", "invalid_field")
        if ts < 0:
            raise bad("disable_until_ts must be a non-negative integer", "invalid_field")
        if ts > _five_years_from_now():
            raise bad("disable_until_ts must be less than 5 years in the future", "invalid_field")

    def change() -> None:
        with state.db.write() as session:
            found = hma_content.find_bank(session, name)
            if found is None:
                raise _not_found(name)
            if ts is not None:
                hma_content.set_disable_until(session, found[0], number, ts, principal.actor)

    await run_in_threadpool(change)
    request.app.state.hma_ids.clear()
    return _content_json(_content(state, name, number), None)


@router.delete("/c/bank/{name}/content/{content_id}")
def bank_delete_content(
    name: str,
    content_id: str,
    request: Request,
    principal: Principal = Depends(gate.BANKS_WRITE),
) -> dict[str, int]:
    """``{"deleted": 1}`` (0 when the bank holds no such content). The entries are disabled
    and kept on record; the id is not given out again."""
    state = app_state(request)
    number = _content_id(content_id)
    with state.db.write() as session:
        found = hma_content.find_bank(session, name)
        if found is None:
            raise _not_found(name)
        deleted = hma_content.remove_content(session, found[0], number, principal.actor)
    request.app.state.hma_ids.clear()
    return {"deleted": deleted}


# ---- signal and content types ----


@router.get("/c/signal_type")
def signal_types(
    request: Request, principal: Principal = Depends(gate.BANKS_READ)
) -> list[dict[str, Any]]:
    return [{"name": name, "enabled_ratio": 1.0} for name in ids.SIGNAL_TYPES]


@router.get("/c/signal_type/index")
def signal_type_index(
    request: Request, principal: Principal = Depends(gate.BANKS_READ)
) -> dict[str, dict[str, Any]]:
    """HMA's build status per signal type. takedown's indexes follow the database within
    ``index_poll_s``: out of date only while loading."""
    state = app_state(request)
    names = selected_signal_types(request)
    with state.db.read() as session:
        sizes = hma_content.index_sizes(session)
    built = int(state.index.stats.last_refresh or 0) if state.index.ready else -1
    now = int(time.time())
    return {
        name: {
            "db_size": sizes.get(name, 0),
            "index_size": sizes.get(name, 0) if state.index.ready else 0,
            "index_out_of_date": not state.index.ready,
            "newest_db_item": now,
            "index_built_to": built,
        }
        for name in names
    }


@router.get("/c/content_type")
def content_types(
    request: Request, principal: Principal = Depends(gate.BANKS_READ)
) -> list[dict[str, Any]]:
    return [{"name": name, "enabled": True} for name in ids.CONTENT_TYPES]
