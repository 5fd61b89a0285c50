"""Reading HMA's requests: query parameters, JSON bodies and single-file uploads, with HMA's
error messages (HMA answers 400 with ``{"message": ...}``, never FastAPI's 422 lists)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import Request
from starlette.datastructures import UploadFile

from takedown.api.errors import ApiError
from takedown.api.hma import ids
from takedown.api.json_input import BadJson, parse_json
from takedown.api.requests import BodyTooLarge


def bad(message: str, code: str = "bad_request") -> ApiError:
    return ApiError(400, code, message)


def require_param(request: Request, name: str) -> str:
    value = request.query_params.get(name)
    if value is None:
        raise bad(f"{name} is required", "missing_parameter")
    return value


def str_to_bool(value: str) -> bool:
    if value.lower() in ("true", "1"):
        return True
    if value.lower() in ("false", "0"):
        return False
    raise bad("invalid boolean parameter - prefer true/false", "invalid_parameter")


def flag(request: Request, name: str) -> bool:
    return str_to_bool(request.query_params.get(name, "false"))


async def json_body(request: Request) -> Any:
    """The JSON body (None when there is none or it is not JSON)."""
    if "json" not in request.headers.get("content-type", "").lower():
        return None
    raw = await request.body()
    if not raw:
        return None
    try:
        return parse_json(raw)
    except BadJson as exc:
        raise bad(f"invalid JSON: {exc.message}", exc.code) from None


async def json_object(request: Request) -> dict[str, Any]:
    body = await json_body(request)
    if not isinstance(body, dict):
        raise bad("this endpoint expects a json object payload", "invalid_body")
    return body


@dataclass(frozen=True)
class Upload:
    """One uploaded file: HMA names the form field after the content type (``photo=@x.jpg``)."""

    field: str
    data: bytes
    fields: dict[str, str]


def is_multipart(request: Request) -> bool:
    return request.headers.get("content-type", "").lower().startswith("multipart/form-data")


async def upload(request: Request) -> Upload:
    """The single file of a multipart body, with HMA's messages for none or several."""
    if not is_multipart(request):
        raise bad("Missing multipart/form-data file upload", "missing_file")
    try:
        form = await request.form(max_files=2, max_fields=20)
    except BodyTooLarge:
        raise
    except Exception:
        raise bad("Only one file allowed per request", "too_many_files") from None
    files = [(name, value) for name, value in form.multi_items() if isinstance(value, UploadFile)]
    if not files:
        raise bad("Missing multipart/form-data file upload", "missing_file")
    if len(files) > 1:
        raise bad("Only one file allowed per request", "too_many_files")
    name, file = files[0]
    fields = {k: v for k, v in form.multi_items() if isinstance(v, str)}
    return Upload(name, await file.read(), fields)


def selected_signal_types(request: Request) -> list[str]:
    """HMA's ``signal_type`` filter of the status routes: every type, or the one named."""
    only = request.query_params.get("signal_type")
    if only is None:
        return list(ids.SIGNAL_TYPES)
    if only not in ids.SIGNAL_TYPES:
        raise bad(f"No such signal type '{only}'", "unknown_signal_type")
    return [only]
