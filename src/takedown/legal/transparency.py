"""Transparency report figures, computed from plain rows (pure; the service gathers them)."""

from __future__ import annotations

import csv
import io
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from html import escape


@dataclass(frozen=True)
class ClockRow:
    kind: str
    started_at: datetime
    due_at: datetime
    met_at: datetime | None
    breached_at: datetime | None


@dataclass(frozen=True)
class Timing:
    count: int
    median_s: float | None
    p90_s: float | None
    within_deadline: float | None  # share of closed clocks met in time


@dataclass
class Figures:
    period_from: str
    period_to: str
    cases_by_category: dict[str, int] = field(default_factory=dict)
    reports_by_source: dict[str, int] = field(default_factory=dict)
    decisions_by_outcome: dict[str, int] = field(default_factory=dict)
    timings: dict[str, Timing] = field(default_factory=dict)
    appeals: int = 0
    appeals_decided: int = 0
    appeal_reversal_rate: float | None = None
    cybertipline_reports: int = 0
    bank_sizes: dict[str, int] = field(default_factory=dict)
    upload_verdicts: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        return asdict(self)


def percentile(values: Sequence[float], share: float) -> float | None:
    """Nearest-rank percentile (the value at rank ceil(share * n))."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-int(share * 100) * len(ordered) // 100))
    return ordered[min(rank, len(ordered)) - 1]


def timing(rows: Sequence[ClockRow]) -> Timing:
    durations = [(r.met_at - r.started_at).total_seconds() for r in rows if r.met_at]
    closed = [r for r in rows if r.met_at or r.breached_at]
    in_time = [r for r in closed if r.met_at is not None and r.met_at <= r.due_at]
    return Timing(
        count=len(durations),
        median_s=statistics.median(durations) if durations else None,
        p90_s=percentile(durations, 0.9),
        within_deadline=len(in_time) / len(closed) if closed else None,
    )


def figures(
    period: tuple[datetime, datetime],
    *,
    case_categories: Sequence[str],
    report_sources: Sequence[str],
    decision_outcomes: Sequence[str],
    clocks: Sequence[ClockRow],
    appeal_outcomes: Sequence[str | None],
    cybertip_finished: int,
    bank_sizes: dict[str, int],
    upload_verdicts: Sequence[str],
) -> Figures:
    appeals_decided = [o for o in appeal_outcomes if o is not None]
    return Figures(
        period_from=period[0].isoformat(),
        period_to=period[1].isoformat(),
        cases_by_category=dict(Counter(case_categories)),
        reports_by_source=dict(Counter(report_sources)),
        decisions_by_outcome=dict(Counter(decision_outcomes)),
        timings={
            kind: timing([c for c in clocks if c.kind == kind])
            for kind in ("restrict", "first_review", "removal", "cybertip")
        },
        appeals=len(appeal_outcomes),
        appeals_decided=len(appeals_decided),
        appeal_reversal_rate=(
            appeals_decided.count("overturned") / len(appeals_decided) if appeals_decided else None
        ),
        cybertipline_reports=cybertip_finished,
        bank_sizes=bank_sizes,
        upload_verdicts=dict(Counter(upload_verdicts)),
    )


def to_csv(report: Figures) -> str:
    """One row per figure: section, name, value."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["section", "name", "value"])
    for section in (
        "cases_by_category",
        "reports_by_source",
        "decisions_by_outcome",
        "bank_sizes",
        "upload_verdicts",
    ):
        for name, value in sorted(getattr(report, section).items()):
            writer.writerow([section, name, value])
    for kind, t in report.timings.items():
        for name in ("count", "median_s", "p90_s", "within_deadline"):
            writer.writerow(["timing", f"{kind}.{name}", getattr(t, name)])
    for name in ("appeals", "appeals_decided", "appeal_reversal_rate", "cybertipline_reports"):
        writer.writerow(["totals", name, getattr(report, name)])
    return out.getvalue()


def to_html(report: Figures) -> str:
    rows = "".join(
        f"<tr><td>{escape(a)}</td><td>{escape(b)}</td><td>{escape(str(c))}</td></tr>"
        for a, b, c in csv.reader(io.StringIO(to_csv(report)))
        if a != "section"
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Transparency report'
        f"</title></head><body><main><h1>Transparency report</h1><p>{escape(report.period_from)}"
        f' to {escape(report.period_to)}</p><table><thead><tr><th scope="col">Section</th>'
        '<th scope="col">Figure</th><th scope="col">Value</th></tr></thead>'
        f"<tbody>{rows}</tbody></table></main></body></html>"
    )
