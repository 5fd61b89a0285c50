"""HMA's matching routes: ``/m/raw_lookup``, ``/m/lookup`` (hash, URL or upload),
``/m/index/status`` and ``/m/compare``."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from takedown.api.hma import auth as gate
from takedown.api.hma import ids, lookups, media
from takedown.api.hma.inputs import (
    bad,
    flag,
    json_body,
    require_param,
    selected_signal_types,
    upload,
)
from takedown.api.state import app_state
from takedown.auth.accounts import Principal
from takedown.service import hma_content
from takedown.signals import InvalidSignal
from takedown.signals.pdq import DEFAULT_THRESHOLD, hamming
from takedown.signals.wire import from_stored

router = APIRouter(tags=["HMA: matching"])


def _cache(request: Request) -> lookups.ContentIdCache:
    cache: lookups.ContentIdCache = request.app.state.hma_ids
    return cache


@router.get("/m/raw_lookup")
async def raw_lookup(
    request: Request, principal: Principal = Depends(gate.LOOKUP)
) -> dict[str, list[object]]:
    """Content ids whose hashes match ``signal`` (enabled or not, as HMA); ``banks`` narrows
    to those banks, ``include_distance`` adds each match's distance."""
    signal = require_param(request, "signal")
    signal_type = require_param(request, "signal_type")
    include_distance = flag(request, "include_distance")
    found = await lookups.matches(
        app_state(request),
        _cache(request),
        signal_type,
        signal,
        ids.bank_list(request.query_params.get("banks")),
    )
    return {"matches": lookups.raw_json(found, include_distance)}


async def _lookup_hashes(request: Request, hashes: dict[str, str]) -> dict[str, Any]:
    state = app_state(request)
    params = request.query_params
    return {
        hma_type: await lookups.by_bank(
            state,
            _cache(request),
            hma_type,
            value,
            banks=ids.bank_list(params.get("banks")),
            seed=params.get("seed"),
            bypass_coinflip=params.get("bypass_coinflip", "false") == "true",
        )
        for hma_type, value in hashes.items()
    }


@router.get("/m/lookup")
async def lookup_get(
    request: Request, principal: Principal = Depends(gate.LOOKUP)
) -> dict[str, Any]:
    """By ``signal_type`` and ``signal``: ``{bank: [{bank_content_id, distance}]}``. By
    ``url``: the same per signal type hashed (``{"pdq": {bank: [...]}}``), or only that of
    ``signal_type`` when it is given too."""
    params = request.query_params
    url = params.get("url")
    if url:
        hashes = await media.from_url(request, app_state(request), url)
        found = await _lookup_hashes(request, hashes)
        selected = params.get("signal_type")
        if selected is not None:
            result: dict[str, Any] = found.get(selected, {})
            return result
        return found
    signal, signal_type = params.get("signal"), params.get("signal_type")
    if not signal or not signal_type:
        raise bad("Either url or both signal and signal_type are required", "missing_parameter")
    found = await _lookup_hashes(request, {signal_type: signal})
    result = found[signal_type]
    return result


@router.post("/m/lookup")
async def lookup_post(
    request: Request, principal: Principal = Depends(gate.LOOKUP)
) -> dict[str, Any]:
    """An uploaded file (field ``photo`` or ``video``): matches per signal type, by bank."""
    got = await upload(request)
    hashes = await media.from_upload(app_state(request), got, request.query_params.get("types"))
    return await _lookup_hashes(request, hashes)


@router.get("/m/index/status")
async def index_status(
    request: Request, principal: Principal = Depends(gate.LOOKUP)
) -> dict[str, dict[str, Any]]:
    """Per HMA signal type: whether the index is loaded, up to when, and how many hashes."""
    state = app_state(request)
    names = selected_signal_types(request)

    def sizes() -> dict[str, int]:
        with state.db.read() as session:
            return hma_content.index_sizes(session)

    counted = await run_in_threadpool(sizes)
    out: dict[str, dict[str, Any]] = {}
    for name in names:
        if state.index.ready:
            built_to = int(state.index.stats.last_refresh or time.time())
            out[name] = {"present": True, "built_to": built_to, "size": counted.get(name, 0)}
        else:
            out[name] = {"present": False, "built_to": -1, "size": 0}
    return out


def _compare(hma_type: str, pair: object) -> list[Any]:
    if not isinstance(pair, list):
        raise bad(f"Comparison hashes for {hma_type} was not a list", "invalid_body")
    if len(pair) != 2:
        raise bad("Comparison hash list length must be exactly 2", "invalid_body")
    if hma_type not in ids.SIGNAL_TYPES:
        raise bad(f"No such SignalType '{hma_type}'", "unknown_signal_type")
    signal_type = ids.SIGNAL_TYPES[hma_type]
    try:
        left, right = (from_stored(signal_type, str(v)).value for v in pair)  # type: ignore[union-attr]
    except InvalidSignal as exc:
        raise bad(f"Invalid {hma_type} hash: {exc}", "invalid_signal") from None
    if hma_type == "pdq":
        distance = hamming(left, right)
        return [distance <= DEFAULT_THRESHOLD, {"distance": distance}]
    return [left == right, {}]


@router.post("/m/compare")
async def compare(
    request: Request, principal: Principal = Depends(gate.LOOKUP)
) -> dict[str, list[Any]]:
    """``{"pdq": [a, b]}`` -> ``{"pdq": [is_match, {"distance": bits}]}``."""
    body = await json_body(request)
    if not isinstance(body, dict):
        raise bad("Request input was not a dict", "invalid_body")
    return {hma_type: _compare(hma_type, pair) for hma_type, pair in body.items()}
