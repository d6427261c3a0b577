"""What the server-rendered SVG charts share: the palette, the font attributes, and the
opening of a chart with its text alternative (``<title>`` and ``<desc>``, both escaped).
No scripts and no styles: only presentation attributes, so the pages'
Content-Security-Policy holds."""

from __future__ import annotations

from html import escape

INK, MUTED, LINE, BRAND = "#1b2430", "#5b6675", "#d8dee6", "#1f4e79"
FONT = 'font-family="system-ui, sans-serif" font-size="12"'


def open_svg(
    chart_id: str, width: int, height: int, title: str, desc: str, *, css_class: str = ""
) -> list[str]:
    """The first lines of a chart: ``<svg>`` labelled by its title and description."""
    cid = escape(chart_id)
    extra = f' class="{escape(css_class)}"' if css_class else ""
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" aria-labelledby="{cid}-t {cid}-d" '
        f'data-chart="{cid}"{extra}>',
        f'<title id="{cid}-t">{escape(title)}</title>',
        f'<desc id="{cid}-d">{escape(desc)}</desc>',
    ]
