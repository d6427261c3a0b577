"""Server-rendered SVG charts of a report: no scripts and no style sheets inside (only
presentation attributes), so they pass the pages' Content-Security-Policy and print well.

Every text is escaped here; each chart has a ``<title>`` and a ``<desc>`` with the numbers,
and the page prints the same numbers in tables. A suppressed figure gets no bar, only the
words "fewer than N".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

from shieldwall.core.svg import BRAND, FONT, INK, MUTED, open_svg

STATUS_COLOURS = {
    "in_place": "#1e6b3a",
    "partly": "#b7791f",
    "not_in_place": "#a4262c",
    "not_known": "#5b6675",
}


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value: float | None
    #: shown instead of a number when there is no value ("fewer than 10", "not in place")
    note: str = ""


def note_of(figure: dict[str, Any]) -> str | None:
    """What is shown instead of a report figure's number (None: it has one). The page's
    tables and its charts both say it this way."""
    if figure.get("available") is False:
        return "not in place"
    if "suppressed" in figure:
        return f"fewer than {figure['suppressed']['below']}"
    if figure.get("value") is None:
        return "nothing measured"
    return None


def bar_of(label: str, figure: dict[str, Any], *, scale: float = 1.0) -> Bar:
    """A bar from a report figure (value, suppressed or unavailable)."""
    note = note_of(figure)
    if note is not None:
        return Bar(label, None, note)
    return Bar(label, float(figure["value"]) * scale)


def _number(value: float, unit: str) -> str:
    if unit == "hours":
        return f"{value:,.1f} h"
    return f"{value:,.0f}"


def bar_chart(chart_id: str, title: str, bars: Sequence[Bar], *, unit: str = "count") -> str:
    """Horizontal bars, one per row, the number (or the note) at the end of each."""
    row, left, right, top = 26, 230, 90, 8
    width = 640
    height = top * 2 + row * max(len(bars), 1)
    desc = "; ".join(
        f"{b.label}: {b.note if b.value is None else _number(b.value, unit)}" for b in bars
    )
    out = open_svg(chart_id, width, height, title, desc or "No figures.", css_class="chart")
    if not bars:
        out.append(f'<text x="8" y="20" {FONT} fill="{MUTED}">No figures.</text></svg>')
        return "".join(out)
    peak = max([b.value for b in bars if b.value is not None] + [1.0])
    span = width - left - right
    for i, bar in enumerate(bars):
        y = top + i * row
        out.append(
            f'<text x="{left - 8}" y="{y + 16}" text-anchor="end" {FONT} fill="{INK}">'
            f"{escape(bar.label[:40])}</text>"
        )
        if bar.value is None:
            out.append(
                f'<text x="{left}" y="{y + 16}" {FONT} fill="{MUTED}" font-style="italic">'
                f"{escape(bar.note)}</text>"
            )
            continue
        w = span * bar.value / peak
        out.append(
            f'<rect x="{left}" y="{y + 4}" width="{w:.1f}" height="{row - 10}" fill="{BRAND}"/>'
        )
        out.append(
            f'<text x="{left + w + 6:.1f}" y="{y + 16}" {FONT} fill="{INK}">'
            f"{escape(_number(bar.value, unit))}</text>"
        )
    out.append("</svg>")
    return "".join(out)


def paired_chart(
    chart_id: str, title: str, rows: Sequence[tuple[str, Bar, Bar]], *, unit: str = "hours"
) -> str:
    """Two bars per row (median and 90th percentile)."""
    bars: list[Bar] = []
    for label, first, second in rows:
        bars.append(Bar(f"{label}: median", first.value, first.note))
        bars.append(Bar(f"{label}: 90th pct", second.value, second.note))
    return bar_chart(chart_id, title, bars, unit=unit)


def status_chart(chart_id: str, title: str, statuses: Sequence[tuple[int, str, str]]) -> str:
    """One square per principle, coloured by status, with its number and a legend."""
    size, gap, left, top = 46, 8, 8, 8
    width = left * 2 + len(statuses) * (size + gap)
    height = size + 60
    desc = "; ".join(
        f"principle {n} ({name}): {status.replace('_', ' ')}" for n, name, status in statuses
    )
    out = open_svg(chart_id, width, height, title, desc, css_class="chart")
    for i, (number, _name, status) in enumerate(statuses):
        x = left + i * (size + gap)
        colour = STATUS_COLOURS.get(status, MUTED)
        out.append(f'<rect x="{x}" y="{top}" width="{size}" height="{size}" fill="{colour}"/>')
        out.append(
            f'<text x="{x + size / 2}" y="{top + size / 2 + 5}" text-anchor="middle" '
            f'font-family="system-ui, sans-serif" font-size="16" fill="#ffffff">{number}</text>'
        )
    x = left
    for status, colour in STATUS_COLOURS.items():
        out.append(f'<rect x="{x}" y="{top + size + 16}" width="12" height="12" fill="{colour}"/>')
        label = status.replace("_", " ")
        out.append(f'<text x="{x + 16}" y="{top + size + 26}" {FONT} fill="{INK}">{label}</text>')
        x += 26 + 7 * len(label)
    out.append("</svg>")
    return "".join(out)
