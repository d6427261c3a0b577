"""The tracker's front page in a real headless Chromium against a real server."""

from __future__ import annotations

from typing import Any

import pytest

from shieldwall.accountability.schemas import ImportSummary
from tests.conftest import LiveServer
from tests.web.conftest import ARTIFACTS

pytestmark = [pytest.mark.browser, pytest.mark.db]


def test_front_page_answers_the_questions_with_charts(
    page: Any, live_server: LiveServer, loaded: ImportSummary
) -> None:
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto("/accountability")  # no login: the tracker is public by default
    questions = page.locator("[data-testid=question]")
    assert questions.count() == 5
    first = questions.nth(0)
    assert first.locator("h2").inner_text() == (
        "Which companies have endorsed the Voluntary Principles?"
    )
    assert first.locator("[data-testid=answer-number]").inner_text() == "6"
    coalition = page.locator("[data-question=coalition]")
    assert "22 it is not known" in coalition.inner_text()
    assert coalition.locator("td", has_text="not known").count() == 22
    for q in range(5):
        assert "As of" in questions.nth(q).inner_text()
    # every chart is an accessible image with a title and a description, drawn
    for chart in ("adoption", "totals", "top", "audit"):
        svg = page.locator(f"svg[data-chart={chart}]")
        assert svg.get_attribute("role") == "img"
        assert (svg.locator("title").text_content() or "").strip()
        assert svg.locator("desc").count() == 1
        box = svg.bounding_box()
        assert box is not None
        assert box["width"] > 200
    assert page.locator("svg[data-chart=audit] circle").count() >= 10
    assert page.locator("script").count() == 0
    assert page.locator("[data-testid=audit-method]").is_visible()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "accountability.png"), full_page=True)
    # from an answer to a company page (the 28 members are folded away at first)
    coalition.locator("summary").click()
    page.locator("[data-question=coalition] a", has_text="Discord").first.click()
    page.wait_for_load_state()
    assert page.locator("[data-testid=company-name]").inner_text() == "Discord"
    assert page.locator("[data-testid=verdict]").inner_text() == "inconsistent"
    assert page.locator("[data-testid=principles] td", has_text="not known").count() == 11
    assert errors == []  # nothing blocked by the Content-Security-Policy
