"""Owner-only files and folders: the home folder (0700), the SQLite database and its WAL and
shared-memory companions, and secrets such as the session key (0600).

Modes are set explicitly rather than left to the process umask (a service started with the
usual 022 would otherwise leave reports, contacts and keys readable by every local user),
and looser modes found on start (a copy, a restore, an older version) are tightened: the
group and other bits are removed, the owner's are kept.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")


def tighten(path: Path) -> None:
    """Remove group and other permissions from ``path`` if it has any (no-op when absent)."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return
    if mode & 0o077:
        path.chmod(mode & 0o700)


def private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents) as 0700, or tighten it when it exists."""
    if not path.exists():
        path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
        path.chmod(DIR_MODE)  # mkdir's mode is filtered by the umask
    tighten(path)
    return path


def private_file(path: Path) -> None:
    """Create ``path`` empty as 0600 if it is missing (before any other writer makes it with
    the umask's mode), else tighten it."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        tighten(path)
        return
    try:
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)


def write_private(path: Path, text: str) -> bool:
    """Create a secret file that is 0600 from its first byte and whole when it appears (a
    temporary file, then a hard link: of several processes starting at once, one wins and
    the others read its file). False when ``path`` existed already (left unchanged)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    try:
        with os.fdopen(fd, "w") as handle:
            os.fchmod(handle.fileno(), FILE_MODE)
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.link(tmp, path)
    except FileExistsError:
        return False
    finally:
        tmp.unlink(missing_ok=True)
    return True


def private_sqlite(database: Path) -> None:
    """The SQLite file 0600, created so before SQLite opens it (SQLite gives the WAL and
    shared-memory files it makes later the database file's mode), and any companion files
    left by an earlier run tightened."""
    if not database.parent.exists():
        private_dir(database.parent)
    private_file(database)
    for suffix in SQLITE_COMPANIONS:
        tighten(database.with_name(database.name + suffix))
