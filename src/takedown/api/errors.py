"""Every error answer is ``{"code": ..., "message": ...}`` with a 4xx (or 5xx) status; codes
are a contract for platforms' scripts. Messages never echo personal data."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

from takedown.auth.accounts import AccountError
from takedown.cases.machine import Refused
from takedown.legal.vault import VaultError
from takedown.media import MediaError
from takedown.service.banks import BankError, BankFileRejected
from takedown.service.cases import CaseNotFound
from takedown.service.reports import ReportInvalid
from takedown.signals import InvalidSignal

log = logging.getLogger("takedown.api")

MEDIA_STATUS = {
    "empty_media": 422,
    "unsupported_media": 415,
    "media_too_large": 413,
    "media_too_long": 413,
    "corrupt_media": 422,
    "decode_timeout": 422,
}

MAX_ERRORS = 20
"""Validation problems listed in one 422 answer."""

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_field",
    429: "too_many_requests",
    503: "unavailable",
}


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers
        self.extra = extra


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"code": code, "message": message, **extra}


def _json(
    status: int, code: str, message: str, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    if status == 401:
        headers = {**(headers or {}), "WWW-Authenticate": "Bearer"}
    return JSONResponse(error_body(code, message, **extra), status_code=status, headers=headers)


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return _json(exc.status, exc.code, exc.message, exc.headers, **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        # a body with a hundred thousand unknown keys has as many errors: describe the first
        # MAX_ERRORS only, so that the answer costs no more than the validation did
        errors = [
            {"field": _field(tuple(e.get("loc", ()))), "message": str(e.get("msg", ""))}
            for e in exc.errors()[:MAX_ERRORS]
        ]
        first = errors[0] if errors else {"field": "body", "message": "invalid request"}
        return _json(422, "invalid_field", f"{first['field']}: {first['message']}", errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        return _json(exc.status_code, code, str(exc.detail))

    @app.exception_handler(MediaError)
    async def _media(_: Request, exc: MediaError) -> JSONResponse:
        return _json(MEDIA_STATUS.get(exc.code, 422), exc.code, exc.message)

    @app.exception_handler(InvalidSignal)
    async def _signal(_: Request, exc: InvalidSignal) -> JSONResponse:
        return _json(422, "invalid_signal", str(exc))

    @app.exception_handler(BankError)
    async def _bank(_: Request, exc: BankError) -> JSONResponse:
        if isinstance(exc, BankFileRejected):
            problems = [{"line": p.line, "message": p.message} for p in exc.summary.skipped]
            return _json(
                exc.status,
                exc.code,
                str(exc),
                problems=problems,
                bad_lines=exc.summary.skipped_count,
            )
        return _json(exc.status, exc.code, str(exc))

    @app.exception_handler(ReportInvalid)
    async def _report(_: Request, exc: ReportInvalid) -> JSONResponse:
        errors = [{"field": p.field, "message": p.message} for p in exc.problems]
        return _json(422, "invalid_report", str(exc), errors=errors)

    @app.exception_handler(Refused)
    async def _refused(_: Request, exc: Refused) -> JSONResponse:
        return _json(409, exc.code, exc.message)

    @app.exception_handler(CaseNotFound)
    async def _no_case(_: Request, exc: CaseNotFound) -> JSONResponse:
        return _json(404, "case_not_found", "no such case")

    @app.exception_handler(AccountError)
    async def _account(_: Request, exc: AccountError) -> JSONResponse:
        return _json(422, "invalid_field", str(exc))

    @app.exception_handler(VaultError)
    async def _vault(_: Request, exc: VaultError) -> JSONResponse:
        # the service's fault, not the caller's, and one an operator must mend (restore the
        # master key): 503 with the vault's code, never a 500; the message names no item
        log.error("evidence vault: %s", exc)
        message = (
            "the evidence vault cannot open this item: it was changed on disk"
            if exc.code == VaultError.code
            else "the evidence vault cannot open its items now; an operator must restore its "
            "master key (see /readyz)"
        )
        return _json(503, exc.code, message)

    @app.exception_handler(DataError)
    async def _data(_: Request, exc: DataError) -> JSONResponse:
        # a value the database cannot hold (a NUL character, a number out of range): the
        # request is at fault, and the transaction was rolled back
        return _json(422, "invalid_field", "a value is out of range or holds a NUL character")

    @app.exception_handler(IntegrityError)
    async def _integrity(_: Request, exc: IntegrityError) -> JSONResponse:
        return _json(409, "conflict", "a concurrent request changed the same record; retry")

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return _json(500, "internal_error", "an internal error occurred; it has been logged")
