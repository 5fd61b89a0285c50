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

from takedown.cases.labels import label


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
    takedown_requests: int = 0
    accounts_suspended: int = 0

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
    takedown_requests: int = 0,
    accounts_suspended: int = 0,
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
        takedown_requests=takedown_requests,
        accounts_suspended=accounts_suspended,
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
    for name in (
        "appeals",
        "appeals_decided",
        "appeal_reversal_rate",
        "cybertipline_reports",
        "takedown_requests",
        "accounts_suspended",
    ):
        writer.writerow(["totals", name, getattr(report, name)])
    return out.getvalue()


@dataclass(frozen=True)
class Section:
    """One part of the published report: a title, the rule it answers, labelled and rounded
    figures, and (where it helps) counts drawn as bars."""

    key: str
    title: str
    basis: str
    rows: tuple[tuple[str, str], ...]
    bars: tuple[tuple[str, int], ...] = ()
    note: str = ""


def share(value: float | None) -> str:
    """A share as a rounded percentage ("66.7 %"); "none in this period" without data."""
    return "none in this period" if value is None else f"{value * 100:.1f} %"


def seconds(value: float | None) -> str:
    """A duration rounded to what a reader can use: seconds, minutes or hours."""
    if value is None:
        return "none in this period"
    if value < 120:
        return f"{value:.1f} s"
    if value < 7200:
        return f"{value / 60:.1f} min"
    return f"{value / 3600:.1f} h"


def _bars(counts: dict[str, int]) -> tuple[tuple[str, int], ...]:
    return tuple(
        (words(name), count) for name, count in sorted(counts.items(), key=lambda kv: -kv[1])
    )


def words(value: str) -> str:
    """A stored name in words (the console's label table, so screen and report agree)."""
    return label(value)


def _timing_rows(report: Figures, kinds: Sequence[str]) -> tuple[tuple[str, str], ...]:
    rows: list[tuple[str, str]] = []
    for kind in kinds:
        t = report.timings.get(kind)
        if t is None:
            continue
        name = words(kind)
        rows += [
            (f"{name}: closed clocks", str(t.count)),
            (f"{name}: median", seconds(t.median_s)),
            (f"{name}: 90th percentile", seconds(t.p90_s)),
            (f"{name}: within the deadline", share(t.within_deadline)),
        ]
    return tuple(rows)


def sections(report: Figures) -> list[Section]:
    """The report as published: the DSA's Art. 15 and 24 items, the TAKE IT DOWN Act's
    removal figures, and the CyberTipline, each figure labelled and rounded."""
    reports = sum(report.reports_by_source.values())
    decisions = sum(report.decisions_by_outcome.values())
    verdicts = report.upload_verdicts
    uploads = sum(verdicts.values())
    return [
        Section(
            "notices",
            "Notices received",
            "DSA Art. 15(1)(b): notices submitted under Art. 16, by type of alleged illegal "
            "content and by who sent them (trusted flaggers apart, Art. 22).",
            (
                ("Notices received", str(reports)),
                ("Cases opened", str(sum(report.cases_by_category.values()))),
            ),
            _bars(report.reports_by_source),
            "Cases by category: "
            + (
                ", ".join(f"{words(k)} {v}" for k, v in sorted(report.cases_by_category.items()))
                or "none"
            )
            + ".",
        ),
        Section(
            "decisions",
            "Decisions on notices",
            "DSA Art. 15(1)(b) and (c): actions taken, by outcome; median time to act.",
            (("Decisions", str(decisions)), *_timing_rows(report, ("first_review", "restrict"))),
            _bars(report.decisions_by_outcome),
        ),
        Section(
            "own_initiative",
            "Own-initiative moderation",
            "DSA Art. 15(1)(c): content matched at upload against hash banks (automated "
            "means, Art. 15(1)(e)), and accounts suspended (Art. 24(1)(b)).",
            (
                ("Uploads checked", str(uploads)),
                ("Blocked at upload", str(verdicts.get("block", 0))),
                ("Held for review at upload", str(verdicts.get("hold", 0))),
                ("Accounts suspended", str(report.accounts_suspended)),
                ("Hash bank entries", str(sum(report.bank_sizes.values()))),
            ),
            _bars(verdicts),
        ),
        Section(
            "complaints",
            "Complaints (appeals)",
            "DSA Art. 15(1)(d) and Art. 24(1)(a): complaints through the internal system "
            "(Art. 20), how many were decided and how many reversed the decision.",
            (
                ("Appeals received", str(report.appeals)),
                ("Appeals decided", str(report.appeals_decided)),
                ("Decisions reversed on appeal", share(report.appeal_reversal_rate)),
            ),
        ),
        Section(
            "take_it_down",
            "TAKE IT DOWN Act removal requests",
            "TAKE IT DOWN Act, sec. 3: valid removal requests for non-consensual intimate "
            "images, removed with known copies within 48 hours.",
            (
                ("Removal requests", str(report.takedown_requests)),
                *_timing_rows(report, ("removal",)),
            ),
            (),
            "The removal deadline (48 hours) runs for these requests and for confirmed child "
            "sexual abuse cases alike; the times above cover both.",
        ),
        Section(
            "cybertipline",
            "Reports to NCMEC",
            "18 U.S.C. 2258A: CyberTipline reports filed for apparent child sexual abuse material.",
            (
                ("CyberTipline reports filed", str(report.cybertipline_reports)),
                *_timing_rows(report, ("cybertip",)),
            ),
        ),
    ]


def bars_svg(bars: Sequence[tuple[str, int]], title: str, width: int = 420) -> str:
    """Counts as labelled horizontal bars (each label above its bar: nothing overlaps)."""
    top = max((n for _name, n in bars), default=0) or 1
    height = 40 * len(bars) + 4
    summary = ", ".join(f"{name}: {n}" for name, n in bars) or "none"
    parts = [
        f'<svg role="img" aria-label="{escape(title)}: {escape(summary)}" class="chart" '
        f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">'
    ]
    for i, (name, count) in enumerate(bars):
        w = (width - 60) * count / top
        y = 4 + i * 40
        parts.append(
            f'<text x="0" y="{y + 13}" font-size="13" fill="#1b1b1f">{escape(name)}</text>'
            f'<rect x="0" y="{y + 18}" width="{max(w, 2):.1f}" height="16" fill="#0b5394"/>'
            f'<text x="{w + 6:.1f}" y="{y + 31}" font-size="13" fill="#1b1b1f">{count}</text>'
        )
    return "".join(parts) + "</svg>"


def to_html(report: Figures) -> str:
    """The report as a standalone page to publish (no scripts, no outside resources)."""
    body = []
    for section in sections(report):
        rows = "".join(
            f'<tr><th scope="row">{escape(name)}</th><td>{escape(value)}</td></tr>'
            for name, value in section.rows
        )
        chart = bars_svg(section.bars, section.title) if section.bars else ""
        note = f"<p>{escape(section.note)}</p>" if section.note else ""
        body.append(
            f'<section id="{section.key}"><h2>{escape(section.title)}</h2>'
            f'<p class="basis">{escape(section.basis)}</p><table><tbody>{rows}</tbody></table>'
            f"{note}{chart}</section>"
        )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Transparency report'
        "</title></head><body><main><h1>Transparency report</h1>"
        f"<p>{escape(report.period_from[:10])} to {escape(report.period_to[:10])}</p>"
        f"{''.join(body)}</main></body></html>"
    )
