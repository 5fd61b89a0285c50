"""Jinja2 templates with gettext: every visible string is marked for translation (English
first). The public pages are offered in the languages that have a catalog under
``web/locale/LANG/LC_MESSAGES/public.po`` (read as text: no compiled ``.mo`` to keep in step);
the console stays in English."""

from __future__ import annotations

import gettext
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

from babel.messages.pofile import read_po
from fastapi import Request, Response
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, pass_context, select_autoescape
from jinja2.runtime import Context

HERE = Path(__file__).parent
STATIC = HERE / "static"
LOCALE = HERE / "locale"
PUBLIC_DOMAIN = "public"

LANGUAGES = {"en": "English", "es": "Español", "de": "Deutsch"}
"""The public pages' languages, each named in itself (English is the source text)."""
DEFAULT_LANGUAGE = "en"
LANGUAGE_COOKIE = "takedown_lang"


def N_(message: str) -> str:  # noqa: N802 (the gettext convention for "mark, translate later")
    """Marks a string for extraction where it is defined (a module constant); it is
    translated when a page in the reader's language is rendered."""
    return message


class Catalog(gettext.NullTranslations):
    """A language's strings read from its ``.po`` file; an untranslated or fuzzy string falls
    back to the English source."""

    def __init__(self, messages: dict[str, str]) -> None:
        super().__init__()
        self._messages = messages

    def gettext(self, message: str) -> str:
        return self._messages.get(message) or message

    def ngettext(self, msgid1: str, msgid2: str, n: int) -> str:
        return self.gettext(msgid1 if n == 1 else msgid2)


def catalog_path(language: str) -> Path:
    return LOCALE / language / "LC_MESSAGES" / f"{PUBLIC_DOMAIN}.po"


@cache
def catalog(language: str) -> gettext.NullTranslations:
    path = catalog_path(language)
    if language == DEFAULT_LANGUAGE or not path.exists():
        return gettext.NullTranslations()
    with path.open("rb") as source:
        po = read_po(source)
    messages = {
        str(m.id): str(m.string)
        for m in po
        if m.id and isinstance(m.id, str) and isinstance(m.string, str) and not m.fuzzy
    }
    return Catalog(messages)


def _accepted(header: str) -> list[str]:
    """The Accept-Language header's languages, most wanted first (primary subtags only)."""
    ranked = []
    for position, item in enumerate(header.split(",")[:20]):
        tag, _sep, params = item.strip().partition(";")
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                weight = 0.0
        ranked.append((-weight, position, tag.split("-")[0].lower()))
    return [tag for weight, _pos, tag in sorted(ranked) if weight < 0]


def request_language(request: Request) -> str:
    """The language of a public page: the one the reader chose (``?lang=``, kept in a cookie),
    else the first of their browser's languages that has a catalog, else English."""
    for chosen in (request.query_params.get("lang"), request.cookies.get(LANGUAGE_COOKIE)):
        if chosen in LANGUAGES:
            return str(chosen)
    for tag in _accepted(request.headers.get("accept-language", "")):
        if tag in LANGUAGES:
            return tag
    return DEFAULT_LANGUAGE


@dataclass(frozen=True)
class Language:
    """The reader's language on one request, for code that words a message itself."""

    code: str
    translations: gettext.NullTranslations

    def gettext(self, message: str, **values: object) -> str:
        text = self.translations.gettext(message)
        return text % values if values else text

    @classmethod
    def of(cls, request: Request) -> Language:
        code = request_language(request)
        return cls(code, catalog(code))

    @classmethod
    def named(cls, code: str) -> Language:
        code = code if code in LANGUAGES else DEFAULT_LANGUAGE
        return cls(code, catalog(code))


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


def _translations_of(context: Context) -> gettext.NullTranslations:
    language = context.get("language")
    return language.translations if isinstance(language, Language) else catalog("en")


@pass_context
def _gettext(context: Context, message: str) -> str:
    return _translations_of(context).gettext(message)


@pass_context
def _ngettext(context: Context, singular: str, plural: str, n: int) -> str:
    return _translations_of(context).ngettext(singular, plural, n)


_env = Environment(
    loader=FileSystemLoader(str(HERE / "templates")),
    autoescape=select_autoescape(["html"]),
    extensions=["jinja2.ext.i18n"],
)
# the page's language is looked up in the render context (``language``), so that one
# environment serves every reader in their own language
_env.install_gettext_callables(_gettext, _ngettext, newstyle=True)  # type: ignore[attr-defined]
templates = Jinja2Templates(env=_env)
templates.env.filters["duration"] = _duration
templates.env.filters["when"] = _when
templates.env.filters["segment"] = _segment
_ = catalog("en").gettext


def render(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
    response: Response = templates.TemplateResponse(request, name, context, status_code=status)
    return response


def render_localised(
    request: Request, name: str, context: dict[str, Any], status: int = 200
) -> Response:
    """A public page in the reader's language, with the language links; a language chosen
    with ``?lang=`` is remembered (a cookie that holds only the language code)."""
    language = Language.of(request)
    links = []
    if request.method == "GET":  # an answer to a form (a receipt) cannot be asked for again
        for code, label in LANGUAGES.items():
            url = request.url.include_query_params(lang=code)
            links.append((code, label, f"{url.path}?{url.query}"))
    response = render(
        request,
        name,
        {**context, "language": language, "language_links": links},
        status,
    )
    if request.query_params.get("lang") in LANGUAGES:
        response.set_cookie(
            LANGUAGE_COOKIE,
            language.code,
            max_age=365 * 24 * 3600,
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
        )
    return response
