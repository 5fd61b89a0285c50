"""HMA's hashing routes: ``GET /h/hash?url=`` (fetch and hash) and ``POST /h/hash`` (upload)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from takedown.api.hma import auth as gate
from takedown.api.hma import media
from takedown.api.hma.inputs import bad, upload
from takedown.api.state import app_state
from takedown.auth.accounts import Principal

router = APIRouter(tags=["HMA: hashing"])


@router.get("/h/hash")
async def hash_url(request: Request, principal: Principal = Depends(gate.LOOKUP)) -> dict[str, str]:
    """Fetch ``url`` (HMA's allowed-hostnames rule and size limit; never a private address)
    and answer its hashes by HMA signal type: ``{"pdq": "..."}`` for a photo."""
    url = request.query_params.get("url")
    if url is None:
        raise bad("url is required", "missing_parameter")
    return await media.from_url(request, app_state(request), url)


@router.post("/h/hash")
async def hash_upload(
    request: Request, principal: Principal = Depends(gate.LOOKUP)
) -> dict[str, str]:
    """Hash one uploaded file; the form field names its content type (``photo`` or
    ``video``), as HMA's clients send it."""
    got = await upload(request)
    return await media.from_upload(app_state(request), got, request.query_params.get("types"))
