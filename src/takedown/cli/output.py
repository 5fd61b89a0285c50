"""The CLI's two consoles: results on stdout, progress and errors on stderr.

Both soft-wrap (a path or an error is never broken across lines, so scripts can grep them) and
leave highlighting off (paths and hashes are data, not markup).
"""

from __future__ import annotations

from rich.console import Console


def stdout() -> Console:
    return Console(highlight=False, soft_wrap=True)


def stderr() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)
