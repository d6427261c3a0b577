"""Small server-rendered SVG charts with text alternatives; no scripts, no styles (only
presentation attributes, so the pages' Content-Security-Policy holds).

Each function returns markup that is safe to insert as is: every piece of text in it is
escaped here. Each chart has a ``<title>`` and a ``<desc>`` (read by screen readers); the
pages also print the same numbers as a table.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from html import escape

from shieldwall.core.svg import BRAND, FONT, INK, LINE, MUTED, open_svg

BAD, OK = "#a4262c", "#1e6b3a"


def _short(n: float) -> str:
    if abs(n) >= 1_000_000:
        return f"{n / 1_000_000:.1f}M"
    if abs(n) >= 1_000:
        return f"{n / 1_000:.0f}k"
    return f"{n:.0f}"


def step_chart(
    chart_id: str, title: str, series: Sequence[tuple[str, str, Sequence[tuple[date, int]]]],
    end: date,
) -> str:  # fmt: skip
    """Cumulative counts over time, one stepped line per series (label, colour, points)."""
    width, height, left, bottom, top, right = 640, 240, 44, 30, 16, 150
    points = [p for _l, _c, pts in series for p in pts]
    desc = "; ".join(
        f"{label}: {pts[-1][1] if pts else 0} by {end.isoformat()}" for label, _c, pts in series
    )
    out = open_svg(chart_id, width, height, title, desc)
    if not points:
        out.append(f'<text x="20" y="40" {FONT} fill="{MUTED}">No dated rows yet.</text></svg>')
        return "".join(out)
    start = min(d for d, _ in points)
    span = max((end - start).days, 1)
    peak = max(max(v for _, v in points), 1)

    def x(d: date) -> float:
        return left + (width - left - right) * (d - start).days / span

    def y(v: float) -> float:
        return height - bottom - (height - bottom - top) * v / peak

    out.append(f'<line x1="{left}" y1="{y(0)}" x2="{width - right}" y2="{y(0)}" stroke="{LINE}"/>')
    for year in range(start.year, end.year + 1):
        d = date(year, 1, 1)
        if start <= d <= end:
            out.append(f'<text x="{x(d):.1f}" y="{height - 10}" {FONT} fill="{MUTED}" '
                       f'text-anchor="middle">{year}</text>')  # fmt: skip
    for tick in sorted({0, peak // 2, peak}):
        out.append(f'<text x="{left - 6}" y="{y(tick) + 4:.1f}" {FONT} fill="{MUTED}" '
                   f'text-anchor="end">{tick}</text>')  # fmt: skip
    for n, (label, colour, pts) in enumerate(series):
        if not pts:
            continue
        path = [f"M{x(pts[0][0]):.1f},{y(0):.1f}"]
        for d, v in pts:
            path.append(f"H{x(d):.1f}V{y(v):.1f}")
        path.append(f"H{x(end):.1f}")
        out.append(f'<path d="{"".join(path)}" fill="none" stroke="{colour}" stroke-width="2.5"/>')
        out.append(f'<text x="{width - right + 8}" y="{y(pts[-1][1]) + 4 + 14 * n:.1f}" {FONT} '
                   f'fill="{colour}">{escape(label)}: {pts[-1][1]}</text>')  # fmt: skip
    out.append("</svg>")
    return "".join(out)


def bar_chart(
    chart_id: str, title: str, bars: Sequence[tuple[str, float]], unit: str = "reports"
) -> str:
    """Horizontal bars, largest first as given."""
    width, row, left = 640, 22, 190
    height = 20 + row * max(len(bars), 1)
    desc = "; ".join(f"{label}: {value:,.0f} {unit}" for label, value in bars) or "No data."
    out = open_svg(chart_id, width, height, title, desc)
    peak = max((v for _, v in bars), default=1) or 1
    for n, (label, value) in enumerate(bars):
        y = 10 + n * row
        w = (width - left - 70) * value / peak
        out.append(f'<text x="{left - 8}" y="{y + 14}" {FONT} fill="{INK}" '
                   f'text-anchor="end">{escape(label[:28])}</text>')  # fmt: skip
        out.append(f'<rect x="{left}" y="{y + 3}" width="{max(w, 1):.1f}" height="{row - 6}" '
                   f'fill="{BRAND}"/>')  # fmt: skip
        out.append(f'<text x="{left + w + 6:.1f}" y="{y + 14}" {FONT} fill="{MUTED}">'
                   f"{_short(value)}</text>")  # fmt: skip
    out.append("</svg>")
    return "".join(out)


def difference_chart(
    chart_id: str, title: str, rows: Sequence[tuple[str, float | None, str]], tolerance: float
) -> str:
    """One dot per company and year at its relative difference from NCMEC (clipped to
    ±100 %), with the tolerance band shaded; rows without a comparison show a hollow mark."""
    width, row, left, right = 640, 20, 210, 20
    height = 40 + row * max(len(rows), 1)
    clip = 1.0
    mid = left + (width - left - right) / 2
    scale = (width - left - right) / 2 / clip
    parts = []
    for label, diff, verdict in rows:
        text = f"{diff:+.1%}" if diff is not None else "not comparable"
        parts.append(f"{label}: {text} ({verdict.replace('_', ' ')})")
    out = open_svg(chart_id, width, height, title, "; ".join(parts) or "No comparisons.")
    band = tolerance * scale
    out.append(f'<rect x="{mid - band:.1f}" y="20" width="{max(2 * band, 1):.1f}" '
               f'height="{height - 30}" fill="#e8f5ec"/>')  # fmt: skip
    out.append(f'<line x1="{mid}" y1="20" x2="{mid}" y2="{height - 10}" stroke="{OK}"/>')
    for frac, label in ((-clip, "-100%"), (0.0, "0"), (clip, "+100%")):
        out.append(f'<text x="{mid + frac * scale:.1f}" y="14" {FONT} fill="{MUTED}" '
                   f'text-anchor="middle">{label}</text>')  # fmt: skip
    for n, (label, diff, verdict) in enumerate(rows):
        y = 30 + n * row
        out.append(f'<text x="{left - 8}" y="{y + 4}" {FONT} fill="{INK}" '
                   f'text-anchor="end">{escape(label[:32])}</text>')  # fmt: skip
        if diff is None:
            out.append(f'<circle cx="{mid}" cy="{y}" r="4" fill="none" stroke="{MUTED}"/>')
            continue
        colour = OK if verdict == "consistent" else BAD
        cx = mid + max(-clip, min(clip, diff)) * scale
        out.append(f'<circle cx="{cx:.1f}" cy="{y}" r="5" fill="{colour}"/>')
    out.append("</svg>")
    return "".join(out)
