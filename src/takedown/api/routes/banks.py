"""Bank administration: create, list, change, add entries (signals or media), import files,
disable false positives. Every change is audited by the service layer."""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from pathlib import PurePath

from fastapi import APIRouter, Depends, File, Form, Path, Query, Request, UploadFile
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile as StarletteUpload

from takedown.api.errors import ApiError
from takedown.api.requests import body_doc, read_body
from takedown.api.schemas import (
    MAX_ID,
    BankIn,
    BankOut,
    BankPatch,
    DisableIn,
    EntriesAdded,
    EntriesIn,
    EntryOut,
    ImportOut,
    LineProblemOut,
)
from takedown.api.security import require
from takedown.api.state import app_state
from takedown.auth.accounts import Principal
from takedown.auth.scopes import Scope
from takedown.matching import banks as bank_files
from takedown.media import MediaLimits
from takedown.service import banks as bank_service
from takedown.service.references import reference_entries, reference_signals
from takedown.signals import InvalidSignal, Signal
from takedown.store.models import Bank, BankEntry

router = APIRouter(prefix="/v1/banks", tags=["banks"])


def _bank_out(bank: Bank, counts: dict[int, tuple[int, int]]) -> BankOut:
    total, enabled = counts.get(bank.id, (0, 0))
    return BankOut(
        name=bank.name,
        description=bank.description,
        action=bank.action,
        threshold=bank.threshold,
        enabled=bank.enabled,
        entries=total,
        enabled_entries=enabled,
        created_at=bank.created_at,
    )


def _entry_out(entry: BankEntry) -> EntryOut:
    return EntryOut(
        id=str(entry.id),
        signal_type=entry.signal_type,
        value=entry.value,
        label=entry.label,
        source=entry.source,
        external_id=entry.external_id,
        enabled=entry.enabled,
        added_at=entry.added_at,
        added_by=entry.added_by,
    )


@router.post("", response_model=BankOut, status_code=201)
def create_bank(
    body: BankIn, request: Request, principal: Principal = Depends(require(Scope.BANKS_WRITE))
) -> BankOut:
    with app_state(request).db.write() as session:
        bank = bank_service.create_bank(
            session,
            body.name,
            description=body.description,
            action=body.action,
            threshold=body.threshold,
            actor=principal.actor,
        )
        return _bank_out(bank, {})


@router.get("", response_model=list[BankOut])
def list_banks(
    request: Request, principal: Principal = Depends(require(Scope.BANKS_READ))
) -> list[BankOut]:
    with app_state(request).db.read() as session:
        counts = bank_service.entry_counts(session)
        banks = session.query(Bank).order_by(Bank.name).all()
        return [_bank_out(b, counts) for b in banks]


@router.get("/{name}", response_model=BankOut)
def get_bank(
    name: str, request: Request, principal: Principal = Depends(require(Scope.BANKS_READ))
) -> BankOut:
    with app_state(request).db.read() as session:
        bank = bank_service.get_bank(session, name)
        return _bank_out(bank, bank_service.entry_counts(session))


@router.patch("/{name}", response_model=BankOut)
def patch_bank(
    name: str,
    body: BankPatch,
    request: Request,
    principal: Principal = Depends(require(Scope.BANKS_WRITE)),
) -> BankOut:
    state = app_state(request)
    with state.db.write() as session:
        bank = bank_service.get_bank(session, name)
        bank_service.update_bank(
            session,
            bank,
            actor=principal.actor,
            description=body.description,
            action=body.action,
            threshold=body.threshold,
            clear_threshold="threshold" in body.model_fields_set and body.threshold is None,
            enabled=body.enabled,
        )
        session.flush()
        out = _bank_out(bank, bank_service.entry_counts(session))
    state.index.catch_up(state.db)
    return out


@router.get("/{name}/entries", response_model=list[EntryOut])
def list_entries(
    name: str,
    request: Request,
    after: int = Query(0, ge=0, le=MAX_ID, description="Entry id cursor: larger ids follow"),
    limit: int = Query(100, ge=1, le=1000),
    principal: Principal = Depends(require(Scope.BANKS_EXPORT)),
) -> list[EntryOut]:
    """The bank's hash list, a page at a time: ``banks:export`` (platform keys that sync
    lists, and the roles that build banks), not ``banks:read``: a reviewer sees which banks
    there are, not their hashes."""
    with app_state(request).db.read() as session:
        bank = bank_service.get_bank(session, name)
        return [
            _entry_out(e)
            for e in bank_service.list_entries(session, bank, after=after, limit=limit)
        ]


def _media_entries(
    data: bytes, limits: MediaLimits, label: str, source: str, external_id: str
) -> list[bank_files.BankEntry]:
    """A media file's entries: as a reference, every turn and the crop grid of an image."""
    signals = reference_signals(data, limits)
    sha = next((s.value for s in signals if isinstance(s, Signal) and s.type == "sha256"), "")
    return reference_entries(signals, label, source, external_id or f"sha256:{sha}")


@router.post(
    "/{name}/entries",
    response_model=EntriesAdded,
    status_code=201,
    openapi_extra=body_doc(EntriesIn),
)
async def add_entries(
    name: str, request: Request, principal: Principal = Depends(require(Scope.BANKS_WRITE))
) -> EntriesAdded:
    """Add signals (JSON ``{"entries": [...]}``) or a media file (multipart: ``file`` plus
    optional ``label``, ``source``, ``external_id``): every hash takedown makes of it, an
    image's 8 turns and flips and its crop grid too, so turned and cropped copies match."""
    state = app_state(request)
    content_type = request.headers.get("content-type", "").lower()
    if content_type.startswith("multipart/form-data"):
        form = await request.form(max_files=1, max_fields=10)
        upload = form.get("file")
        if not isinstance(upload, StarletteUpload):
            raise ApiError(422, "invalid_field", "file: a media file is required")
        data = await upload.read()
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        limits = MediaLimits(
            max_bytes=state.settings.max_upload_bytes, max_decode_s=state.settings.hash_timeout_s
        )
        entries = await run_in_threadpool(
            _media_entries,
            data,
            limits,
            fields.get("label", "")[:500],
            fields.get("source", "")[:500],
            fields.get("external_id", "")[:200],
        )
        how = "media"
    else:
        body, _ = await read_body(request, EntriesIn)
        entries = []
        for position, item in enumerate(body.entries):
            try:
                value = bank_files.canonical_value(item.signal_type.strip().lower(), item.value)
            except InvalidSignal as exc:
                raise ApiError(422, "invalid_signal", f"entries.{position}: {exc}") from None
            entries.append(
                bank_files.BankEntry(
                    item.signal_type.strip().lower(),
                    value,
                    item.label,
                    item.source,
                    item.external_id,
                )
            )
        how = "signals"

    def store() -> list[int]:
        with state.db.write() as session:
            bank = bank_service.get_bank(session, name)
            added = bank_service.add_entries(session, bank, entries, actor=principal.actor, how=how)
        state.index.catch_up(state.db)
        return added

    ids = await run_in_threadpool(store)
    return EntriesAdded(added=len(ids), entry_ids=[str(i) for i in ids])


def upload_lines(upload: StarletteUpload) -> Iterator[str]:
    """The uploaded file's text lines, decoded as they are read (never whole in memory)."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="strict")
    pending = ""
    upload.file.seek(0)
    while chunk := upload.file.read(1 << 20):
        try:
            pending += decoder.decode(chunk)
        except UnicodeDecodeError:
            raise ApiError(422, "invalid_field", "file: the bank file is not UTF-8") from None
        *complete, pending = pending.split("\n")
        for line in complete:
            yield line + "\n"
    pending += decoder.decode(b"", final=True)
    if pending:
        yield pending


@router.post("/{name}/import", response_model=ImportOut)
def import_file(
    name: str,
    request: Request,
    file: UploadFile = File(..., description="CSV, JSON lines, or one hash per line"),
    format: bank_files.BankFormat | None = Form(None, description="Default: from the file name"),
    signal_type: str | None = Form(None, description="For plain files: pdq, md5, ..."),
    skip_bad: bool = Form(False, description="Import the good lines despite bad ones"),
    principal: Principal = Depends(require(Scope.BANKS_WRITE)),
) -> ImportOut:
    """Stream a bank file in; a file with bad lines imports nothing unless ``skip_bad``."""
    fmt = format or bank_files.BankFormat.from_path(PurePath(file.filename or "bank.txt"))
    if fmt is bank_files.BankFormat.PLAIN and not signal_type:
        raise ApiError(422, "invalid_field", "signal_type: a plain hash-per-line file needs it")
    items = bank_files.iter_entries(
        upload_lines(file),
        fmt,
        signal_type=(signal_type or "").strip().lower() or None,
        added_by=principal.actor,
    )
    state = app_state(request)
    with state.db.write() as session:
        bank = bank_service.get_bank(session, name)
        summary = bank_service.import_entries(
            session,
            bank,
            items,
            actor=principal.actor,
            skip_bad=skip_bad,
            source_name=(file.filename or "")[:200],
        )
    state.index.catch_up(state.db)
    return ImportOut(
        added=summary.added,
        skipped=summary.skipped_count,
        problems=[LineProblemOut(line=p.line, message=p.message) for p in summary.skipped],
    )


def _set_enabled(
    name: str, entry_id: int, enabled: bool, body: DisableIn, request: Request, actor: str
) -> EntryOut:
    state = app_state(request)
    with state.db.write() as session:
        bank = bank_service.get_bank(session, name)
        entry = bank_service.set_entry_enabled(
            session, bank, entry_id, enabled, actor=actor, reason=body.reason
        )
        out = _entry_out(entry)
    state.index.catch_up(state.db)
    return out


@router.post("/{name}/entries/{entry_id}/disable", response_model=EntryOut)
def disable_entry(
    name: str,
    body: DisableIn,
    request: Request,
    entry_id: int = Path(ge=1, le=MAX_ID),
    principal: Principal = Depends(require(Scope.BANKS_WRITE)),
) -> EntryOut:
    """Stop matching an entry (a false positive); it stays on record."""
    return _set_enabled(name, entry_id, False, body, request, principal.actor)


@router.post("/{name}/entries/{entry_id}/enable", response_model=EntryOut)
def enable_entry(
    name: str,
    body: DisableIn,
    request: Request,
    entry_id: int = Path(ge=1, le=MAX_ID),
    principal: Principal = Depends(require(Scope.BANKS_WRITE)),
) -> EntryOut:
    return _set_enabled(name, entry_id, True, body, request, principal.actor)
