"""Untrusted JSON bodies: nesting depth bounded before any parser sees them.

Python's ``json`` parser recurses once per nesting level: ten thousand ``[`` make it raise
``RecursionError`` (the 500s found by the outside test), and a few hundred still cost every
later stage (validation, error messages) a walk of that depth. No body of this API nests
deeper than a handful of levels, so anything over :data:`MAX_DEPTH` is refused with 400
``too_deep`` by a scan that never recurses, costs linear time in C, and skips bodies with too
few brackets to be deep at all (nearly every real request).

:class:`JsonDepthLimit` applies the scan to every JSON body, whichever route reads it (FastAPI's
declared bodies as well as :func:`takedown.api.requests.read_body`); :func:`parse_json` is the
one parse of the routes that read their body themselves.
"""

from __future__ import annotations

import json
import math
import re
from email.message import Message as MimeHeader
from typing import Any

import numpy as np
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_DEPTH = 32
"""Deepest nesting accepted: the deepest real body (a bank entry list) nests three levels."""

MAX_INT_DIGITS = 100
"""Digits of a JSON integer: ids are 32-bit, so this is generous, and it keeps Python's own
limit (4300 digits, a ``ValueError`` deep in the parser) out of reach."""

_ESCAPE = re.compile(rb"\\.", re.DOTALL)
_STRING = re.compile(rb'"[^"]*"')
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class BadJson(ValueError):
    """A body that is not acceptable JSON; ``code`` is the API's error code for it."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def too_deep_message(limit: int = MAX_DEPTH) -> str:
    return f"the JSON body nests deeper than {limit} levels"


def nesting_depth(raw: bytes) -> int:
    """The deepest bracket nesting of ``raw`` outside strings, in linear time.

    Escapes are dropped first (``\\"`` cannot end a string), then whole strings, so only
    structural brackets are left to count. Malformed input gets some number: the parser
    refuses it afterwards anyway.
    """
    structure = _STRING.sub(b"", _ESCAPE.sub(b"", raw)).translate(None, _NOT_BRACKET)
    if not structure:
        return 0
    codes = np.frombuffer(structure, dtype=np.uint8)
    steps = np.where((codes == ord("[")) | (codes == ord("{")), 1, -1).astype(np.int64)
    return int(np.cumsum(steps).max())


def deeper_than(raw: bytes, limit: int = MAX_DEPTH) -> bool:
    """Whether ``raw`` nests deeper than ``limit``; counting brackets first makes the common
    case (a small body with a few brackets) cost two ``bytes.count`` calls."""
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return False
    return nesting_depth(raw) > limit


def _no_constant(name: str) -> Any:
    raise BadJson("bad_request", f"the body is not valid JSON: {name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise BadJson("bad_request", f"a JSON number is out of range: {text[:40]}")
    return value


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise BadJson("bad_request", f"a JSON number has more than {MAX_INT_DIGITS} digits")
    return int(text)


def parse_json(raw: bytes | str, limit: int = MAX_DEPTH) -> Any:
    """Parse an untrusted JSON document, raising :class:`BadJson` for anything not acceptable:
    not UTF-8, not JSON, nested deeper than ``limit``, ``NaN``/``Infinity`` (or a number that
    overflows to it), integers of more than :data:`MAX_INT_DIGITS` digits."""
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    if deeper_than(data, limit):
        raise BadJson("too_deep", too_deep_message(limit))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BadJson("bad_request", "the body is not valid JSON: it is not UTF-8") from None
    try:
        return json.loads(
            text, parse_constant=_no_constant, parse_int=_bounded_int, parse_float=_finite_float
        )
    except json.JSONDecodeError as exc:
        raise BadJson("bad_request", f"the body is not valid JSON: {exc.msg}") from None


def is_json_type(content_type: str) -> bool:
    """Whether a request with this Content-Type has its body parsed as JSON by some route
    (``application/json``, ``application/*+json``, or none at all)."""
    if not content_type.strip():
        return True
    header = MimeHeader()
    header["content-type"] = content_type
    subtype = header.get_content_subtype()
    return header.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


class JsonDepthLimit:
    """ASGI middleware: a JSON body nested deeper than ``limit`` is answered 400 ``too_deep``
    before any route parses it. Other bodies pass untouched; JSON bodies are read whole, as
    every route reads them anyway (the body limit outside this middleware bounds them)."""

    def __init__(self, app: ASGIApp, limit: int = MAX_DEPTH) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", []))
        content_type = headers.get(b"content-type", b"").decode("latin-1")
        if not is_json_type(content_type):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                # the client went away: let the app see it as it would have
                await self.app(scope, _replay([message], receive), send)
                return
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if deeper_than(body, self.limit):
            await _too_deep(send, self.limit)
            return
        replayed: Message = {"type": "http.request", "body": body, "more_body": False}
        await self.app(scope, _replay([replayed], receive), send)


def _replay(first: list[Message], receive: Receive) -> Receive:
    pending = list(first)

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed


async def _too_deep(send: Send, limit: int) -> None:
    body = json.dumps({"code": "too_deep", "message": too_deep_message(limit)}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 400,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
