"""Wall-time budget for one decode."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from takedown.media.errors import DecodeTimeout


@dataclass
class Deadline:
    """Checked between decode steps so that a slow or endless item stops within its budget."""

    seconds: float
    started: float = field(default_factory=time.monotonic)

    def check(self, what: str) -> None:
        elapsed = time.monotonic() - self.started
        if elapsed > self.seconds:
            raise DecodeTimeout(
                f"{what} took longer than {self.seconds:g} s; the item may be hostile or "
                "damaged, or raise the decode time limit if it is a genuinely large file"
            )
