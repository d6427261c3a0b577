"""`shieldwall demo seed` leaves real activity behind, so /transparency shows a full report."""

from __future__ import annotations

import pytest

from shieldwall.config import Settings
from shieldwall.db.engine import Database
from shieldwall.demo import seed_demo
from shieldwall.transparency import service, validation
from shieldwall.transparency.periods import half_year_of

pytestmark = pytest.mark.db


def test_demo_seed_produces_a_full_report(db: Database, settings: Settings) -> None:
    first = seed_demo(db, settings)
    assert any(c.startswith("transparency demo activity") for c in first.created)
    again = seed_demo(db, settings)  # once only
    assert not any(c.startswith("transparency demo activity") for c in again.created)
    loose = settings.model_copy(update={"transparency_suppression_floor": 1})
    with db.session() as session:
        report = service.build_report(session, loose, half_year_of(service.today()))
    assert validation.problems(report) == []
    values = {m["id"]: m.get("value") for m in report["sections"]["outcomes"]["metrics"]}
    assert values["content_scanned"] == 36
    assert values["content_matched"] == 12
    assert values["cases_opened"] == 17  # 12 hash matches, 3 user reports, 2 takedowns
    assert values["decisions"] == 17
    assert values["user_reports_received"] == 3
    assert values["takedown_requests_received"] == 2
    assert values["takedown_requests_approved"] == 2
    # violating decisions on content: 10 hash matches + 3 user reports (a takedown request
    # asks the platform for nothing: its hook banks the hashes)
    assert values["content_actioned"] == 13
    processes = {p["id"]: p for p in report["sections"]["processes_and_systems"]["items"]}
    assert processes["hash_matching"]["active"] is True
    statuses = {p["number"]: p["status"] for p in report["principles"]}
    assert statuses[1] in ("in_place", "partly")
    assert statuses[5] == "not_in_place"
