"""takedown's own hash-sharing feed, what it shares, and what the retro-scan found.

``GET /v1/exchange/feed`` and ``/v1/exchange/feed/key`` (scope ``exchange:read``: another
takedown instance subscribing) follow :mod:`takedown.exchanges.feed_format` to the byte: the
body is signed as sent. The sharing settings (``/v1/sharing``) need ``exchanges:admin``; the
retro-scans (``/v1/retro-scans``) ``banks:read``.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict

from takedown.api.errors import ApiError
from takedown.api.security import require
from takedown.api.state import app_state
from takedown.auth.accounts import Principal
from takedown.auth.scopes import Scope
from takedown.exchanges import feed_format
from takedown.service import retro_scan, sharing
from takedown.service.feed_key import feed_signing_key

router = APIRouter(tags=["exchanges"])

_JSON = "application/json"


@lru_cache(maxsize=4)
def signing_key(home: Path) -> Ed25519PrivateKey:
    """The feed key of this home, read once per process."""
    return feed_signing_key(home)


@router.get(
    "/v1/exchange/feed",
    response_class=Response,
    responses={200: {"content": {_JSON: {}}, "description": "A signed page of shared hashes"}},
)
def exchange_feed(
    request: Request,
    after: str = Query("", max_length=20, description="The `next` of the previous page"),
    limit: int = Query(feed_format.DEFAULT_LIMIT, ge=1, le=feed_format.MAX_LIMIT),
    principal: Principal = Depends(require(Scope.EXCHANGE_READ)),
) -> Response:
    """Confirmed hashes this platform chose to share, added and removed, oldest first: signal
    type, value, category, time. Nothing else (no case, report, person or content id). The
    body is signed with ed25519 in ``X-Takedown-Feed-Signature``; pin the key from
    ``/v1/exchange/feed/key``."""
    state = app_state(request)
    try:
        sharing.parse_cursor(after)
    except sharing.SharingError as exc:
        raise ApiError(422, exc.code, str(exc)) from None
    # read-only: the worker publishes (retro_scan.run_until), so a reader never takes the
    # write lock and many readers cannot hold up the service's writes
    with state.db.read() as session:
        page = sharing.page(session, sharing.FEED_TARGET, after, limit)
    body = feed_format.encode_page(page)
    signature = feed_format.sign(body, signing_key(state.settings.home))
    return Response(
        content=body, media_type=_JSON, headers={feed_format.SIGNATURE_HEADER: signature}
    )


class FeedKeyOut(BaseModel):
    key_id: str
    public_key: str


@router.get("/v1/exchange/feed/key", response_model=FeedKeyOut)
def exchange_feed_key(
    request: Request, principal: Principal = Depends(require(Scope.EXCHANGE_READ))
) -> FeedKeyOut:
    """The feed's public key (raw 32 bytes, base64) and its id: pin it when subscribing."""
    key = feed_format.feed_key(signing_key(app_state(request).settings.home))
    return FeedKeyOut(key_id=key.key_id, public_key=key.public_key)


class ShareSettingOut(BaseModel):
    target: str
    category: str
    enabled: bool
    updated_at: datetime | None
    updated_by: str


class SharingOut(BaseModel):
    settings: list[ShareSettingOut]


class ShareIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: bool


def _setting_out(setting: sharing.ShareSetting) -> ShareSettingOut:
    return ShareSettingOut(
        target=setting.target,
        category=setting.category,
        enabled=setting.enabled,
        updated_at=setting.updated_at,
        updated_by=setting.updated_by,
    )


@router.get("/v1/sharing", response_model=SharingOut)
def list_sharing(
    request: Request, principal: Principal = Depends(require(Scope.EXCHANGES_ADMIN))
) -> SharingOut:
    """Which categories of confirmed hashes each target receives (``feed``: takedown's own
    feed; else an exchange by name). Everything is off until switched on."""
    with app_state(request).db.read() as session:
        return SharingOut(settings=[_setting_out(s) for s in sharing.settings(session)])


@router.put("/v1/sharing/{target}/{category}", response_model=ShareSettingOut)
def set_sharing(
    body: ShareIn,
    request: Request,
    target: str = PathParam(max_length=100),
    category: str = PathParam(max_length=40),
    principal: Principal = Depends(require(Scope.EXCHANGES_ADMIN)),
) -> ShareSettingOut:
    """Share (or stop sharing) one category's confirmed hashes with one target. Switching on
    shares earlier confirmations too; switching off keeps what was shared (a later reversal
    is still published as removed)."""
    state = app_state(request)
    try:
        with state.db.write() as session:
            setting = sharing.set_sharing(
                session, target, category, body.enabled, actor=principal.actor, now=state.now()
            )
    except sharing.SharingError as exc:
        raise ApiError(exc.status, exc.code, str(exc)) from None
    return _setting_out(setting)


class RetroScanOut(BaseModel):
    id: str
    bank: str
    exchange: str | None
    entries: int
    signals_checked: int
    matched: int
    skipped: int
    entries_added_at: datetime
    finished_at: datetime
    summary: str


class RetroScansOut(BaseModel):
    scans: list[RetroScanOut]


@router.get("/v1/retro-scans", response_model=RetroScansOut)
def list_retro_scans(
    request: Request,
    bank: str | None = Query(None, max_length=100),
    matched: Literal["any", "some"] = Query("any", description="`some`: only scans with hits"),
    limit: int = Query(50, ge=1, le=500),
    principal: Principal = Depends(require(Scope.BANKS_READ)),
) -> RetroScansOut:
    """The newest retro-scans of new bank entries against the content already on the
    platform: how many items each found (each became a case)."""
    with app_state(request).db.read() as session:
        lines = retro_scan.recent_scans(
            session, limit=limit, bank=bank, only_matched=matched == "some"
        )
    return RetroScansOut(
        scans=[
            RetroScanOut(
                id=str(line.id),
                bank=line.bank,
                exchange=line.exchange,
                entries=line.entries,
                signals_checked=line.signals_checked,
                matched=line.matched,
                skipped=line.skipped,
                entries_added_at=line.entries_added_at,
                finished_at=line.finished_at,
                summary=line.summary,
            )
            for line in lines
        ]
    )
