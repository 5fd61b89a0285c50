"""Reading request bodies that may be JSON or multipart (fields + ``file``), with size limits.

The platform API accepts both shapes on one route, so the body is read here rather than by
FastAPI's declared-body machinery; the route's OpenAPI still documents both (see
:func:`body_doc`).
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.datastructures import UploadFile
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from takedown.api.errors import MAX_ERRORS, ApiError
from takedown.api.json_input import BadJson, parse_json

Model = TypeVar("Model", bound=BaseModel)

_LIST_FIELDS = ("signals", "ip_events")


class BodyTooLarge(Exception):
    pass


class BodyLimit:
    """ASGI middleware: refuse bodies over ``limit`` bytes with 413, whether or not the client
    declared a Content-Length (a chunked upload is counted as it arrives)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await _too_large(send, self.limit)
            return
        seen = 0
        started = False

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise BodyTooLarge
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, tracked_send)
        except BodyTooLarge:
            if not started:
                await _too_large(send, self.limit)


async def _too_large(send: Send, limit: int) -> None:
    body = json.dumps(
        {"code": "payload_too_large", "message": f"the request body exceeds {limit} bytes"}
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json"), (b"connection", b"close")],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _validate(model: type[Model], data: Any) -> Model:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)[:MAX_ERRORS]]
        ) from None


async def read_body(request: Request, model: type[Model]) -> tuple[Model, bytes | None]:
    """The validated fields and, for multipart requests, the uploaded file's bytes."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":
        try:
            form = await request.form(max_files=1, max_fields=50)
        except BodyTooLarge:
            raise
        except Exception as exc:
            raise ApiError(400, "bad_request", f"unreadable multipart body: {exc}") from None
        fields: dict[str, Any] = {}
        data: bytes | None = None
        for name, value in form.multi_items():
            if isinstance(value, UploadFile):
                if name != "file":
                    raise ApiError(422, "invalid_field", f"{name}: only 'file' may be a file")
                data = await value.read()
            elif name in _LIST_FIELDS:
                try:
                    fields[name] = parse_json(value)
                except BadJson as exc:
                    if exc.code == "too_deep":
                        raise ApiError(400, exc.code, f"{name}: {exc.message}") from None
                    raise ApiError(422, "invalid_field", f"{name}: must be a JSON list") from None
            else:
                fields[name] = value
        return _validate(model, fields), data
    if content_type in ("application/json", ""):
        raw = await request.body()
        try:
            payload = parse_json(raw) if raw else None
        except BadJson as exc:
            raise ApiError(400, exc.code, exc.message) from None
        if not isinstance(payload, dict):
            raise ApiError(422, "invalid_field", "body: a JSON object is required")
        return _validate(model, payload), None
    raise ApiError(
        415,
        "unsupported_media_type",
        "send application/json, or multipart/form-data with the fields and a 'file'",
    )


def body_doc(model: type[BaseModel]) -> dict[str, Any]:
    """OpenAPI requestBody for a route taking JSON or multipart with the same fields + file."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    schema.pop("$defs", None)
    multipart = {
        "type": "object",
        "properties": {
            **{
                name: (
                    {"type": "string", "description": "JSON list of signals"}
                    if name in _LIST_FIELDS
                    else prop
                )
                for name, prop in schema.get("properties", {}).items()
            },
            "file": {"type": "string", "format": "binary"},
        },
    }
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}},
                "multipart/form-data": {"schema": multipart},
            },
        }
    }
