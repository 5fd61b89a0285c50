"""The platform's calls: register content, look up signals, report edits and deletions."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from takedown.api.errors import ApiError
from takedown.api.hash_pool import HashingBusy
from takedown.api.requests import body_doc, read_body
from takedown.api.schemas import (
    BATCH_SIGNALS,
    ContentIn,
    ContentOut,
    ContentPatch,
    LookupBatchIn,
    LookupBatchOut,
    LookupIn,
    SignalIn,
    VerdictOut,
)
from takedown.api.security import require
from takedown.api.state import AppState, app_state
from takedown.auth.accounts import Principal
from takedown.auth.scopes import Scope
from takedown.media import MediaLimits
from takedown.service import content as content_service
from takedown.service.content import ContentInfo, MatchInfo, verdict_for
from takedown.service.live_index import read_entry_info
from takedown.service.uploads import report_blocked, review_held
from takedown.signals import AnySignal, HashOptions, InvalidSignal
from takedown.signals.strength import assess
from takedown.signals.wire import from_stored
from takedown.store.models import Content

router = APIRouter(prefix="/v1", tags=["platform"])


def _signals(submitted: Sequence[SignalIn]) -> list[AnySignal]:
    return [from_stored(s.type.strip().lower(), s.value) for s in submitted]


async def _all_signals(
    state: AppState, submitted: Sequence[SignalIn], data: bytes | None
) -> tuple[list[AnySignal], str]:
    signals = _signals(submitted)
    kind = ""
    if data is not None:
        options = HashOptions(
            limits=MediaLimits(
                max_bytes=state.settings.max_upload_bytes,
                max_decode_s=state.settings.hash_timeout_s,
            ),
            mirror_image=state.settings.mirror_uploads,
        )
        try:
            result = await state.hashing.hash(data, options)
        except HashingBusy as busy:
            raise ApiError(
                429,
                "hashing_busy",
                "every hashing process is busy and the queue is full; retry after the "
                "Retry-After seconds",
                headers={"Retry-After": str(busy.retry_after_s)},
                retry_after_s=busy.retry_after_s,
            ) from None
        signals.extend(result.signals)
        kind = result.media.value
    if not signals:
        raise ApiError(422, "invalid_field", "signals: give signals or a media file")
    return signals, kind


async def _matches(state: AppState, signals: Sequence[AnySignal]) -> list[MatchInfo]:
    if not state.index.ready:
        raise ApiError(503, "index_loading", "the indexes are still loading; retry shortly")
    hits = state.index.match(signals)
    if not hits:
        return []
    infos, missing = state.index.entry_info({h.hit.entry_id for h in hits})
    if missing:
        read = await run_in_threadpool(read_entry_info, state.db, missing)
        state.index.remember(read)
        infos.update(read)
    return content_service.describe(hits, infos)


def _verdict_out(session: Session, content: Content) -> dict[str, object]:
    case_id = content_service.case_of(session, content)
    return {
        "verdict": content.verdict,
        "matches": content.matches,
        "case_id": str(case_id) if case_id is not None else None,
        "content_id": content.content_id,
        "status": content.status,
        "fingerprint": content.fingerprint,
    }


@router.post(
    "/content",
    response_model=VerdictOut,
    status_code=201,
    openapi_extra=body_doc(ContentIn),
    responses={
        200: {"model": VerdictOut, "description": "Already registered: first verdict"},
        429: {"description": "`hashing_busy`: the media cannot be hashed now; see Retry-After."},
    },
)
async def register_content(
    request: Request, principal: Principal = Depends(require(Scope.CONTENT_WRITE))
) -> JSONResponse:
    """Register an upload (media bytes and/or signals); answers with the verdict at once."""
    state = app_state(request)
    body, data = await read_body(request, ContentIn)

    def existing() -> dict[str, object] | None:
        with state.db.read() as session:
            found = content_service.find(session, body.content_id)
            return _verdict_out(session, found) if found is not None else None

    known = await run_in_threadpool(existing)
    if known is not None:
        return JSONResponse(known, status_code=200)
    signals, hashed_kind = await _all_signals(state, body.signals, data)
    matches = await _matches(state, signals)
    info = ContentInfo(
        content_id=body.content_id,
        uploader_id=body.uploader_id,
        url=body.url,
        kind=body.kind or hashed_kind,
        posted_at=body.posted_at,
    )

    def store() -> tuple[dict[str, object], bool]:
        with state.db.write() as session:
            content, created = content_service.register(session, info, signals, matches)
            if created and content.verdict == "hold":
                review_held(session, content, matches, state.policy, state.now())
            elif created and content.verdict == "block":
                report_blocked(session, content, matches, state.policy, state.now())
            return _verdict_out(session, content), created

    out, created = await run_in_threadpool(store)
    if out["verdict"] != "allow":
        if data is not None and created:
            metadata = {
                "uploader_id": body.uploader_id,
                "url": body.url,
                "kind": info.kind,
                "posted_at": body.posted_at.isoformat() if body.posted_at else None,
                "verdict": out["verdict"],
                "ip_events": [
                    {"ip_address": str(e.ip_address), "event_name": e.event_name, "at": e.at}
                    for e in body.ip_events
                ],
            }
            await run_in_threadpool(state.evidence.put, body.content_id, data, metadata)
        state.wake.set()
    state.metrics.verdicts.labels("content", out["verdict"]).inc()
    return JSONResponse(out, status_code=201 if created else 200)


@router.post(
    "/lookup",
    response_model=VerdictOut,
    openapi_extra=body_doc(LookupIn),
    responses={
        429: {"description": "`hashing_busy`: the media cannot be hashed now; see Retry-After."}
    },
)
async def lookup(
    request: Request, principal: Principal = Depends(require(Scope.LOOKUP))
) -> VerdictOut:
    """Signals or media -> verdict and matches; registers nothing and keeps no bytes."""
    state = app_state(request)
    body, data = await read_body(request, LookupIn)
    signals, _ = await _all_signals(state, body.signals, data)
    matches = await _matches(state, signals)
    verdict = verdict_for(matches).value
    state.metrics.verdicts.labels("lookup", verdict).inc()
    return VerdictOut.model_validate(
        {
            "verdict": verdict,
            "matches": [m.to_json() for m in matches],
            "signals": [s.to_json() for s in signals] if data is not None else [],
            "fingerprint": assess(signals).to_json(),
        }
    )


def _batch_signals(body: LookupBatchIn) -> list[list[AnySignal]]:
    """Every item's signals, parsed; one bad value refuses the whole batch, naming its item."""
    total = sum(len(item.signals) for item in body.items)
    if total > BATCH_SIGNALS:
        raise ApiError(
            422,
            "invalid_field",
            f"items: at most {BATCH_SIGNALS} signals in one batch, got {total}; split it",
        )
    parsed = []
    for number, item in enumerate(body.items):
        if not item.signals:
            raise ApiError(422, "invalid_field", f"items[{number}].signals: give signals")
        try:
            parsed.append(_signals(item.signals))
        except InvalidSignal as exc:
            raise ApiError(422, "invalid_signal", f"items[{number}]: {exc}") from None
    return parsed


@router.post(
    "/lookup/batch",
    response_model=LookupBatchOut,
    responses={422: {"description": "A bad signal (the message names its item), or too many."}},
)
async def lookup_batch(
    body: LookupBatchIn,
    request: Request,
    principal: Principal = Depends(require(Scope.LOOKUP)),
) -> JSONResponse:
    """Up to 1,000 signals of many items (hashed on the platform's side) -> one verdict per
    item, in order; as ``/v1/lookup`` for each, in one request and one pass over the index."""
    state = app_state(request)
    items = _batch_signals(body)
    if not state.index.ready:
        raise ApiError(503, "index_loading", "the indexes are still loading; retry shortly")

    def look_up() -> list[dict[str, object]]:
        hits = state.index.match_many(items)
        infos, missing = state.index.entry_info({h.hit.entry_id for found in hits for h in found})
        if missing:
            read = read_entry_info(state.db, missing)
            state.index.remember(read)
            infos.update(read)
        results: list[dict[str, object]] = []
        for signals, found in zip(items, hits, strict=True):
            matches = content_service.describe(found, infos) if found else []
            results.append(
                {
                    "verdict": verdict_for(matches).value,
                    "matches": [m.to_json() for m in matches],
                    "fingerprint": assess(signals).to_json(),
                }
            )
        return results

    results = await run_in_threadpool(look_up)
    for result in results:
        state.metrics.verdicts.labels("lookup", str(result["verdict"])).inc()
    return JSONResponse({"results": results})


def _content_out(content: Content) -> ContentOut:
    return ContentOut.model_validate(
        {
            "content_id": content.content_id,
            "url": content.url,
            "kind": content.kind,
            "status": content.status,
            "verdict": content.verdict,
            "matches": content.matches,
            "registered_at": content.registered_at,
            "updated_at": content.updated_at,
        }
    )


@router.get("/content/{content_id}", response_model=ContentOut)
def get_content(
    content_id: str, request: Request, principal: Principal = Depends(require(Scope.CONTENT_WRITE))
) -> ContentOut:
    state = app_state(request)
    with state.db.read() as session:
        content = content_service.find(session, content_id)
        if content is None:
            raise ApiError(404, "content_not_found", "no content registered under that id")
        return _content_out(content)


@router.patch("/content/{content_id}", response_model=ContentOut)
def patch_content(
    content_id: str,
    patch: ContentPatch,
    request: Request,
    principal: Principal = Depends(require(Scope.CONTENT_WRITE)),
) -> ContentOut:
    """The platform tells of a deletion (``status: deleted``) or an edit (URL, new signals)."""
    state = app_state(request)
    signals = _signals(patch.signals)
    with state.db.write() as session:
        content = content_service.find(session, content_id)
        if content is None:
            raise ApiError(404, "content_not_found", "no content registered under that id")
        content_service.update(
            session, content, status=patch.status, url=patch.url, signals=signals
        )
        session.flush()
        return _content_out(content)
