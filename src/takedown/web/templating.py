"""Jinja2 templates with gettext: every visible string is marked for translation (English
first; catalogs under web/locale are picked up by ``TAKEDOWN_LANGUAGE`` when they exist)."""

from __future__ import annotations

import gettext
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request, Response
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, select_autoescape

HERE = Path(__file__).parent
STATIC = HERE / "static"


def _translations() -> gettext.NullTranslations:
    return gettext.translation(
        "takedown", localedir=str(HERE / "locale"), languages=["en"], fallback=True
    )


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = int(seconds)
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds / 3600:.1f} h"


def _segment(value: object) -> str:
    """One URL path segment: every id placed in a URL goes through this (``/``, ``?``, ``#``
    and ``..`` cannot steer a link or a form to another route)."""
    text = str(value)
    if text.strip(".") == "":
        # a segment of dots is a dot segment even percent-encoded (the URL standard decodes
        # %2E first): encode it twice, so that it names nothing rather than the parent
        return quote(quote(text, safe="").replace(".", "%2E"), safe="")
    return quote(text, safe="")


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment else "—"


_env = Environment(
    loader=FileSystemLoader(str(HERE / "templates")),
    autoescape=select_autoescape(["html"]),
    extensions=["jinja2.ext.i18n"],
)
_env.install_gettext_translations(_translations(), newstyle=True)  # type: ignore[attr-defined]
templates = Jinja2Templates(env=_env)
templates.env.filters["duration"] = _duration
templates.env.filters["when"] = _when
templates.env.filters["segment"] = _segment
_ = _translations().gettext


def render(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
    response: Response = templates.TemplateResponse(request, name, context, status_code=status)
    return response
