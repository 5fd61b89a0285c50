"""The reference platform: upload, repost, "download and re-upload", post pages linking to
takedown's report page, takedown's signed webhooks applied to posts, and media served to
takedown only on signed requests.

It talks to takedown only through its public interfaces (``POST /v1/content`` with an API
key, signed webhooks, the signed media URL template), as any platform would; the signature
checks are written out here rather than imported, to show what a platform has to do.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import httpx
from fastapi import FastAPI, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from examples.demo_platform import transforms

TEMPLATES = Path(__file__).parent / "templates"


@dataclass
class Post:
    id: str
    user: str
    kind: str  # image | video
    data: bytes
    status: str = "live"  # live | restricted | removed
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    history: list[tuple[float, str]] = field(default_factory=list)  # (time, status)


@dataclass
class PlatformConfig:
    takedown_url: str
    api_key: str
    webhook_secret: str = ""
    media_secret: str = ""
    public_url: str = ""


def verify_signature(secret: str, header: str, message: bytes, tolerance_s: int = 300) -> bool:
    """takedown's signature: HMAC-SHA256 over "timestamp." + message, header "t=..,v1=..."."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        timestamp = int(parts.get("t", ""))
    except ValueError:
        return False
    if abs(time.time() - timestamp) > tolerance_s:
        return False
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + message, hashlib.sha256)
    return hmac.compare_digest(expected.hexdigest(), parts.get("v1", ""))


def create_platform(config: PlatformConfig) -> FastAPI:
    app = FastAPI(title="Pixshare (takedown reference platform)")
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(["html"])
    )
    posts: dict[str, Post] = {}
    seen_keys: set[str] = set()
    lock = threading.Lock()
    app.state.posts = posts

    def page(name: str, status: int = 200, **context: object) -> HTMLResponse:
        return HTMLResponse(env.get_template(name).render(**context), status_code=status)

    def base(request: Request) -> str:
        return config.public_url or str(request.base_url).rstrip("/")

    def register(request: Request, post: Post) -> str:
        """Ask takedown before publishing: the verdict decides."""
        answer = httpx.post(
            f"{config.takedown_url}/v1/content",
            headers={"Authorization": f"Bearer {config.api_key}"},
            data={
                "content_id": post.id,
                "uploader_id": post.user,
                "url": f"{base(request)}/posts/{post.id}",
                "kind": post.kind,
            },
            files={"file": (post.id, post.data)},
            timeout=60,
        )
        answer.raise_for_status()
        verdict: str = answer.json()["verdict"]
        return verdict

    def publish(request: Request, user: str, data: bytes) -> Response:
        kind = "video" if data[4:8] == b"ftyp" or data[:4] == b"\x1aE\xdf\xa3" else "image"
        post = Post(id=secrets.token_hex(4), user=user[:40] or "anonymous", kind=kind, data=data)
        verdict = register(request, post)
        if verdict == "block":
            return page(
                "upload.html",
                422,
                error="This upload was refused: it matches material that is not allowed.",
            )
        post.status = "restricted" if verdict == "hold" else "live"
        post.history.append((time.time(), post.status))
        with lock:
            posts[post.id] = post
        return RedirectResponse(f"/posts/{post.id}", status_code=303)

    @app.get("/", response_class=HTMLResponse)
    def feed() -> HTMLResponse:
        return page(
            "feed.html", posts=sorted(posts.values(), key=lambda p: p.created_at, reverse=True)
        )

    @app.get("/upload", response_class=HTMLResponse)
    def upload_form() -> HTMLResponse:
        return page("upload.html", error="")

    @app.post("/upload")
    async def upload(
        request: Request, user: str = Form(...), file: UploadFile = Form(...)
    ) -> Response:
        return publish(request, user, await file.read())

    @app.get("/posts/{post_id}", response_class=HTMLResponse)
    def show(request: Request, post_id: str) -> HTMLResponse:
        post = posts.get(post_id)
        if post is None:
            return HTMLResponse("not found", status_code=404)
        report_url = (
            f"{config.takedown_url}/report?url={quote(base(request) + '/posts/' + post.id)}"
        )
        return page("post.html", post=post, report_url=report_url, transforms=transforms.TRANSFORMS)

    @app.post("/posts/{post_id}/repost")
    def repost(request: Request, post_id: str, user: str = Form(...)) -> Response:
        return publish(request, user, posts[post_id].data)

    @app.post("/posts/{post_id}/reupload")
    def reupload(
        request: Request, post_id: str, user: str = Form(...), transform: str = Form("reencode")
    ) -> Response:
        source = posts[post_id]
        change = transforms.video if source.kind == "video" else transforms.image
        return publish(
            request,
            user,
            change(source.data, transform if transform in transforms.TRANSFORMS else "reencode"),
        )

    @app.get("/media/{post_id}")
    def media(request: Request, post_id: str) -> Response:
        """To browsers while live; to takedown (signed request) in any state, for review."""
        post = posts.get(post_id)
        if post is None:
            return Response(status_code=404)
        signature = request.headers.get("Takedown-Signature", "")
        signed = bool(config.media_secret) and verify_signature(
            config.media_secret, signature, f"GET {request.url.path}".encode()
        )
        if post.status != "live" and not signed:
            return Response(status_code=404)
        return Response(post.data, media_type="video/mp4" if post.kind == "video" else "image/jpeg")

    @app.post("/takedown/webhook")
    async def webhook(request: Request) -> Response:
        body = await request.body()
        if not verify_signature(
            config.webhook_secret, request.headers.get("Takedown-Signature", ""), body
        ):
            return Response(status_code=401)
        key = request.headers.get("Idempotency-Key", "")
        action = json.loads(body)
        with lock:
            if key in seen_keys:
                return Response(status_code=200)  # already applied
            seen_keys.add(key)
            post = posts.get(action.get("content_id") or "")
            status = {"restrict": "restricted", "remove": "removed", "restore": "live"}.get(
                action["action"]
            )
            if post is not None and status is not None:
                post.status = status
                post.history.append((time.time(), status))
        return Response(status_code=200)

    return app
