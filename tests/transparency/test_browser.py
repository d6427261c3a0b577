"""The report page in a real headless Chromium: every chart drawn, no scripts, CSP clean,
printable; a screenshot goes to test-artifacts/transparency.png."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import LiveServer
from tests.transparency.conftest import known_log, write_log
from tests.web.conftest import ARTIFACTS

pytestmark = [pytest.mark.browser, pytest.mark.db]

CHARTS = (
    "principles",
    "overview",
    "sources",
    "decisions",
    "times",
    "trend-content_scanned",
    "trend-cases_opened",
    "trend-decisions",
    "trend-reports_sent_ncmec",
)


def test_report_page_draws_every_chart(page: Any, live_server: LiveServer) -> None:
    write_log(live_server.db, known_log())
    settings = live_server.app.state.settings
    live_server.app.state.settings = settings.model_copy(
        update={"transparency_public": True, "transparency_suppression_floor": 2}
    )
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto("/transparency?from=2026-01-01&to=2026-06-30")  # public: no login
    assert page.locator("[data-testid=period]").inner_text() == "2026 H1"
    for chart in CHARTS:
        svg = page.locator(f"svg[data-chart={chart}]")
        assert svg.count() == 1, chart
        assert svg.get_attribute("role") == "img"
        assert (svg.locator("title").text_content() or "").strip()
        box = svg.bounding_box()
        assert box is not None, chart
        assert box["width"] > 200, chart
    assert page.locator("svg[data-chart] rect").count() > len(CHARTS)
    overview = page.locator("svg[data-chart=overview] desc").text_content() or ""
    assert "Reports sent to NCMEC: 2" in overview
    assert "Accounts actioned: fewer than 2" in overview  # 1 is below the floor of 2
    row = page.locator("tr[data-metric=content_scanned] [data-testid=value]")
    assert row.inner_text() == "17"
    assert page.locator("script").count() == 0
    assert page.locator("[data-testid=exports] a").count() == 4
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "transparency.png"), full_page=True)
    page.emulate_media(media="print")
    assert not page.locator("form.tr-period").is_visible()
    assert page.locator("svg[data-chart=overview]").is_visible()
    assert errors == []  # nothing refused by the Content-Security-Policy
