"""The interactive API reference at ``/docs``: Swagger UI from the package's own static files
(``web/static/docs``), started by a static script, so that the page loads nothing from a CDN
and runs under the strict Content-Security-Policy of every other page. ReDoc is not served:
its standalone build needs inline styles and a blob: worker, which that policy refuses."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse, HTMLResponse

from takedown.web.templating import STATIC, render

router = APIRouter(include_in_schema=False)


@router.get("/docs", response_class=HTMLResponse)
def swagger_ui(request: Request) -> Response:
    return render(
        request,
        "docs.html",
        {"title": request.app.title, "openapi_url": request.app.openapi_url},
    )


@router.get("/favicon.ico")
def favicon() -> Response:
    """For what a browser asks of any address without a page's ``<link rel="icon">`` (a JSON
    answer opened in a tab): the same icon, so that no console shows a 404 for it."""
    return FileResponse(
        STATIC / "favicon.svg",
        media_type="image/svg+xml",
        headers={"Cache-Control": "public, max-age=86400"},
    )
