"""Dashboard figures and their SVG charts, computed on the server (no chart library, no CDN)."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from html import escape


@dataclass(frozen=True)
class ClockFigures:
    """How one kind of deadline went over a period: durations of met clocks, against the
    deadline, and how many were breached or are still running."""

    kind: str
    durations_s: tuple[float, ...]
    deadline_s: float
    breached: int
    running: int

    @property
    def median_s(self) -> float | None:
        return statistics.median(self.durations_s) if self.durations_s else None

    @property
    def met_in_time(self) -> int:
        return sum(1 for d in self.durations_s if d <= self.deadline_s)


def duration_histogram(
    figures: ClockFigures, title: str = "", width: int = 360, height: int = 140
) -> str:
    """Bars of durations in five bands relative to the deadline; the deadline is marked."""
    bands = [0.25, 0.5, 0.75, 1.0, float("inf")]
    labels = ["<25%", "<50%", "<75%", "<100%", "late"]
    counts = [0] * len(bands)
    for duration in figures.durations_s:
        share = duration / figures.deadline_s if figures.deadline_s else float("inf")
        counts[next(i for i, edge in enumerate(bands) if share <= edge)] += 1
    counts[-1] += figures.breached
    top = max(counts) or 1
    bar = (width - 40) / len(counts)
    name = title or figures.kind.replace("_", " ")
    summary = ", ".join(f"{lab}: {n}" for lab, n in zip(labels, counts, strict=True))
    parts = [
        f'<svg role="img" aria-label="{escape(name)}, share of the deadline used: '
        f'{escape(summary)}" viewBox="0 0 {width} {height + 30}" class="chart" '
        'preserveAspectRatio="xMinYMin meet" xmlns="http://www.w3.org/2000/svg">'
    ]
    for i, count in enumerate(counts):
        h = (height - 20) * count / top
        x = 20 + i * bar
        colour = "#a4161a" if i == len(counts) - 1 else "#0b5394"
        parts.append(
            f'<rect x="{x + 4:.1f}" y="{height - h:.1f}" width="{bar - 8:.1f}" height="{h:.1f}" '
            f'fill="{colour}"><title>{labels[i]}: {count}</title></rect>'
            f'<text x="{x + bar / 2:.1f}" y="{height + 16}" font-size="12" text-anchor="middle" '
            f'fill="#1b1b1f">{labels[i]}</text>'
            f'<text x="{x + bar / 2:.1f}" y="{height - h - 4:.1f}" font-size="12" '
            f'text-anchor="middle" fill="#1b1b1f">{count}</text>'
        )
    deadline_x = 20 + 4 * bar
    parts.append(
        f'<line x1="{deadline_x:.1f}" y1="0" x2="{deadline_x:.1f}" y2="{height}" '
        'stroke="#a4161a" stroke-dasharray="4 3"/></svg>'
    )
    return "".join(parts)


ROW = 40  # a label line above each bar: no label can run into its bar, however long


def count_bars(counts: dict[str, int], title: str = "volumes", width: int = 360) -> str:
    """Horizontal bars for volumes (by category, by source): each label on its own line
    above its bar, the count after the bar; names are escaped, never truncated."""
    rows = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    top = max(counts.values(), default=0) or 1
    height = ROW * len(rows) + 4
    summary = ", ".join(f"{name}: {count}" for name, count in rows) or "none"
    parts = [
        f'<svg role="img" aria-label="{escape(title)}: {escape(summary)}" '
        f'viewBox="0 0 {width} {height}" class="chart" preserveAspectRatio="xMinYMin meet" '
        'xmlns="http://www.w3.org/2000/svg">'
    ]
    for i, (name, count) in enumerate(rows):
        w = (width - 60) * count / top
        y = 4 + i * ROW
        parts.append(
            f'<text x="0" y="{y + 13}" font-size="13" fill="#1b1b1f">{escape(name)}</text>'
            f'<rect x="0" y="{y + 18}" width="{max(w, 2):.1f}" height="16" fill="#0b5394"/>'
            f'<text x="{w + 6:.1f}" y="{y + 31}" font-size="13" fill="#1b1b1f">{count}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
