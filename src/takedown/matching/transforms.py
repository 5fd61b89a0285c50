"""Naming how a matched copy was turned, when both sides may hold turned variants.

An upload's hashes are tried turned (the query side: ``original``, ``mirror``); a reference's
are stored turned (the bank side: its 8 dihedral variants, each also cropped). A match reports
one transform, in the meaning the CLI gives it: the turn or flip that, applied to the upload,
gives the reference. With the query turned by ``q`` and the entry holding the reference turned
by ``r``, ``q(upload) = r(reference)``, so that transform is ``r^-1 . q``. An entry stored
cropped adds ``+cropped``: the upload is a cut of the reference.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

CROPPED = "cropped"
_Grid = npt.NDArray[np.int64]

_APPLY: dict[str, Callable[[_Grid], _Grid]] = {
    "original": lambda a: a,
    "rotate90": lambda a: np.rot90(a, 1),
    "rotate180": lambda a: np.rot90(a, 2),
    "rotate270": lambda a: np.rot90(a, 3),
    "flip": lambda a: a[::-1],
    "mirror": lambda a: a[:, ::-1],
    "transpose": lambda a: a.T,
    "transverse": lambda a: np.rot90(a, 2).T,
}
"""The dihedral transforms by the names of :data:`takedown.signals.pdq.DIHEDRAL_TRANSFORMS`,
on a grid of labels (the same geometry as PDQ's turned pixels)."""

_PROBE: _Grid = np.arange(6, dtype=np.int64).reshape(2, 3)


def _named(grid: _Grid) -> str:
    for name, apply in _APPLY.items():
        result = apply(_PROBE)
        if result.shape == grid.shape and np.array_equal(result, grid):
            return name
    raise ValueError("not a dihedral transform of the probe")  # unreachable: D4 is closed


def _inverse(name: str) -> str:
    return next(
        n for n, apply in _APPLY.items() if np.array_equal(apply(_APPLY[name](_PROBE)), _PROBE)
    )


def stored(dihedral: str, cropped: bool) -> str:
    """What a bank entry keeps of the variant it holds: ``""`` for the reference as it is."""
    parts = [dihedral] if dihedral != "original" else []
    if cropped:
        parts.append(CROPPED)
    return "+".join(parts)


def reported(query: str | None, entry: str) -> str | None:
    """The transform a match reports: the query's turn ``query`` (None: not tried turned)
    against an entry stored as ``entry`` (see :func:`stored`)."""
    parts = [p for p in entry.split("+") if p]
    cropped = CROPPED in parts
    turns = [p for p in parts if p in _APPLY]
    if not turns and not cropped:
        return query
    reference = turns[0] if turns else "original"
    q = query if query in _APPLY else "original"
    inverse = _APPLY[_inverse(reference)]
    name = _named(inverse(_APPLY[q](_PROBE)))
    return stored(name, cropped) or "original"
