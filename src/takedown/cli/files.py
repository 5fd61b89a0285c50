"""Turn command-line paths into the list of files to work on."""

from __future__ import annotations

from pathlib import Path


class MissingPath(FileNotFoundError):
    pass


def expand(paths: list[Path]) -> list[Path]:
    """Files as given, folders walked recursively in a stable (sorted) order, hidden files skipped.

    A path that does not exist is an error before any work starts, so a typo does not produce a
    half-finished run.
    """
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(
                p
                for p in sorted(path.rglob("*"))
                if p.is_file()
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
        elif path.is_file():
            files.append(path)
        else:
            raise MissingPath(f"{path}: no such file or folder")
    return files
