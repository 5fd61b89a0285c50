"""How HMA's names map onto takedown's: banks, signal types and content types (pure).

HMA names banks ``UPPER_WITH_UNDERSCORES``; takedown names them in lower case. The mapping is
the case: HMA's ``CSAM_KNOWN`` is takedown's ``csam_known``, and a takedown bank shows to HMA
clients upper-cased. HMA's signal types are ``pdq`` and ``video_md5`` (an MD5 of the file's
bytes, takedown's ``md5``); its content types ``photo`` and ``video``.
"""

from __future__ import annotations

import re

from takedown.media import MediaKind

BANK_NAME = re.compile(r"^[A-Z][A-Z0-9_]{0,99}$")
"""HMA's rule (upper case, digits, '_'; not starting with a digit), within takedown's (a
takedown name starts with a letter or digit, so a leading '_' is refused too)."""

SIGNAL_TYPES: dict[str, str] = {"pdq": "pdq", "video_md5": "md5"}
"""HMA signal type -> takedown signal type."""

HMA_SIGNAL_TYPES: dict[str, str] = {v: k for k, v in SIGNAL_TYPES.items()}

CONTENT_TYPES: dict[str, tuple[str, ...]] = {"photo": ("pdq",), "video": ("video_md5",)}
"""HMA content type -> the HMA signal types hashed of it (HMA's default configuration)."""

MEDIA_KINDS: dict[str, MediaKind] = {"photo": MediaKind.IMAGE, "video": MediaKind.VIDEO}


def valid_bank_name(name: str) -> bool:
    return bool(BANK_NAME.match(name))


def takedown_bank(hma_name: str) -> str:
    return hma_name.lower()


def hma_bank(takedown_name: str) -> str:
    return takedown_name.upper()


def bank_list(raw: str | None) -> set[str] | None:
    """HMA's ``banks`` parameter: comma-separated names, or None for every bank."""
    if not raw:
        return None
    return {name.strip() for name in raw.split(",") if name.strip()}
