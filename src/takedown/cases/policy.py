"""The case policy: triage rules, clock lengths, copy thresholds, appeal window, URL patterns.

Read from a TOML file over the packaged defaults (``default_policy.toml``, documented key by
key); pure data and pure functions, so that triage is testable without a database.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

from takedown.cases.vocabulary import (
    SEXUAL_CATEGORIES,
    Category,
    MinorDepicted,
    Priority,
    Queue,
)


@dataclass(frozen=True)
class Policy:
    child_abuse_banks: frozenset[str]
    restrict_p1: bool
    trusted_flagger_boost: bool
    restrict_s: float
    first_review_s: dict[Priority, float]
    removal_s: float
    cybertip_s: float
    warnings: tuple[float, ...]
    auto_remove_distance: int
    review_distance: int
    suspend_uploader_on: frozenset[Category]
    appeal_window_days: float
    url_patterns: tuple[re.Pattern[str], ...] = field(default_factory=tuple)
    watch_bank: str = "reporter-hashes"
    watch_categories: frozenset[Category] = frozenset()
    report_blocked_uploads: bool = True
    attempts_window_s: float = 86400.0
    """Blocked re-uploads of the same material by the same uploader within this window join
    one CyberTipline draft (NCMEC asks for one report per incident, attempts listed)."""

    def content_id_for(self, url: str) -> str | None:
        for pattern in self.url_patterns:
            match = pattern.match(url.strip())
            if match and match.groupdict().get("id"):
                return match.group("id")
        return None


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def load_policy(path: Path | None = None) -> Policy:
    """The packaged defaults, overlaid by ``path`` when given; raises ValueError naming the
    key for a bad value."""
    raw = tomllib.loads(files("takedown.cases").joinpath("default_policy.toml").read_text())
    if path is not None:
        raw = _merge(raw, tomllib.loads(path.read_text()))
    try:
        return Policy(
            child_abuse_banks=frozenset(raw["triage"]["child_abuse_banks"]),
            restrict_p1=bool(raw["triage"]["restrict_p1"]),
            trusted_flagger_boost=bool(raw["triage"]["trusted_flagger_boost"]),
            restrict_s=float(raw["clocks"]["restrict_s"]),
            first_review_s={
                Priority(k): float(v) for k, v in raw["clocks"]["first_review_s"].items()
            },
            removal_s=float(raw["clocks"]["removal_s"]),
            cybertip_s=float(raw["clocks"]["cybertip_s"]),
            warnings=tuple(sorted(float(w) for w in raw["clocks"]["warnings"])),
            auto_remove_distance=int(raw["copies"]["auto_remove_distance"]),
            review_distance=int(raw["copies"]["review_distance"]),
            suspend_uploader_on=frozenset(
                Category(c) for c in raw["actions"]["suspend_uploader_on"]
            ),
            appeal_window_days=float(raw["appeals"]["window_days"]),
            url_patterns=tuple(re.compile(p) for p in raw["urls"]["patterns"]),
            watch_bank=str(raw["watch"]["bank"]),
            watch_categories=frozenset(Category(c) for c in raw["watch"]["categories"]),
            report_blocked_uploads=bool(raw["cybertip"]["report_blocked_uploads"]),
            attempts_window_s=float(raw["cybertip"]["attempts_window_s"]),
        )
    except (KeyError, ValueError, re.error) as exc:
        raise ValueError(f"policy file: bad or missing value ({exc})") from None


@dataclass(frozen=True)
class Triage:
    priority: Priority
    queue: Queue
    restrict: bool


def triage(
    policy: Policy,
    category: Category,
    minor: MinorDepicted,
    *,
    child_abuse_match: bool = False,
    trusted_flagger: bool = False,
) -> Triage:
    """Priority, queue and whether to restrict at once, for a new report."""
    sexual = category in SEXUAL_CATEGORIES
    minor_alleged = minor in (MinorDepicted.YES, MinorDepicted.UNSURE)
    if (minor_alleged and sexual) or child_abuse_match or category is Category.CHILD_SEXUAL_ABUSE:
        return Triage(Priority.P0, Queue.CHILD_SAFETY, True)
    if category is Category.NON_CONSENSUAL_INTIMATE_IMAGE:
        priority = Priority.P1
        queue = Queue.NCII
    else:
        priority, queue = Priority.P2, Queue.GENERAL
    if trusted_flagger and policy.trusted_flagger_boost and priority is Priority.P2:
        priority = Priority.P1
    return Triage(priority, queue, priority is Priority.P1 and policy.restrict_p1 and sexual)


def stronger(a: Priority, b: Priority) -> Priority:
    return min(a, b, key=lambda p: p.value)
