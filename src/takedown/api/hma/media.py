"""HMA's hashing: content type -> signal types -> hashes, by upload or by URL.

A photo gets HMA's PDQ (the whole image as it is: no trimming, no fast decode, so the hash is
the one HMA's own hasher gives), a video HMA's ``video_md5`` (an MD5 of the file's bytes).
"""

from __future__ import annotations

import hashlib

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from takedown.api.errors import ApiError
from takedown.api.hma import ids
from takedown.api.hma.fetch import fetch
from takedown.api.hma.inputs import Upload, bad
from takedown.api.state import AppState
from takedown.media import MediaError, MediaLimits
from takedown.signals import HashOptions, Signal, Variant, hash_bytes

_MEDIA_STATUS = {"media_too_large": 413, "media_too_long": 413}


def content_type(name: str) -> str:
    if name not in ids.CONTENT_TYPES:
        raise bad(f"no such content_type: '{name}'", "unknown_content_type")
    return name


def content_type_of(header: str, override: str | None) -> str:
    """HMA's rule: the ``content_type`` parameter, else the URL's Content-Type."""
    if override:
        return content_type(override)
    if header.lower().startswith("image"):
        return "photo"
    if header.lower().startswith("video"):
        return "video"
    raise bad(
        f"unsupported url ContentType: '{header}', if you know the expected type, provide it "
        "with the content_type query param",
        "unsupported_content_type",
    )


def signal_types(kind: str, selection: str | None) -> list[str]:
    """The HMA signal types to hash a ``kind`` with, narrowed by the ``types`` parameter."""
    available = ids.CONTENT_TYPES[kind]
    if selection is None:
        return list(available)
    chosen: list[str] = []
    for name in (n.strip() for n in selection.split(",")):
        if not name:
            continue
        if name not in available:
            raise bad(f"signal type '{name}' doesn't exist or is disabled", "unknown_signal_type")
        chosen.append(name)
    if not chosen:
        raise bad("empty signal type selection", "unknown_signal_type")
    return chosen


def limits(state: AppState) -> MediaLimits:
    return MediaLimits(
        max_bytes=max(state.settings.max_upload_bytes, state.settings.hma_max_remote_file_size),
        max_decode_s=state.settings.hash_timeout_s,
    )


def hash_media(data: bytes, kind: str, types: list[str], limits: MediaLimits) -> dict[str, str]:
    """HMA's hashes of ``data`` (blocking: call from a thread)."""
    out: dict[str, str] = {}
    if "video_md5" in types:
        out["video_md5"] = hashlib.md5(data, usedforsecurity=False).hexdigest()
    if "pdq" in types:
        options = HashOptions(limits=limits, fast=False, trim=False)
        try:
            result = hash_bytes(data, options, types=["pdq"])
        except MediaError as exc:
            raise ApiError(_MEDIA_STATUS.get(exc.code, 400), exc.code, exc.message) from None
        pdq = next(
            (
                s
                for s in result.signals
                if isinstance(s, Signal) and s.type == "pdq" and s.variant is Variant.ORIGINAL
            ),
            None,
        )
        if pdq is None:
            raise bad("the upload is not a photo takedown can read", "unsupported_media")
        out["pdq"] = pdq.value
    return out


async def from_upload(state: AppState, upload: Upload, selection: str | None) -> dict[str, str]:
    kind = content_type(upload.field)
    types = signal_types(kind, selection)
    return await run_in_threadpool(hash_media, upload.data, kind, types, limits(state))


async def fetched(
    state: AppState, url: str, kind_hint: str | None, selection: str | None
) -> tuple[dict[str, str], bytes, str]:
    """Fetch ``url`` and hash it: (HMA's hashes, the bytes, the HMA content type)."""
    got = await run_in_threadpool(fetch, url, state.settings)
    kind = content_type_of(got.content_type, kind_hint)
    types = signal_types(kind, selection)
    hashes = await run_in_threadpool(hash_media, got.data, kind, types, limits(state))
    return hashes, got.data, kind


async def from_url(request: Request, state: AppState, url: str) -> dict[str, str]:
    hashes, _, _ = await fetched(
        state, url, request.query_params.get("content_type"), request.query_params.get("types")
    )
    return hashes
