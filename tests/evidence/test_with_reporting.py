"""The vault beside the reporting domain: a violating decision that queues a report keeps
one evidence item per media, which records the report and is kept a year from it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shieldwall.config import Settings
from shieldwall.db.engine import Database
from shieldwall.evidence import service
from shieldwall.reporting import repository as reports
from shieldwall.users.models import User
from tests.conftest import SYSTEM
from tests.evidence.conftest import MakeCase, decide_violating
from tests.media.samples import picture

pytestmark = pytest.mark.db


@pytest.fixture
def settings(settings: Settings) -> Settings:  # type: ignore[override]
    return settings.model_copy(update={"reporting_labels": ["A1"]})


def test_a_reported_decision_preserves_once_and_records_the_report(
    db: Database, settings: Settings, make_case: MakeCase, rita: User
) -> None:
    case, media_id = make_case(1)
    decide_violating(db, settings, case.id, rita)
    with db.session() as s:
        report = reports.for_case(s, case.id)
        assert report is not None
        (item,) = service.for_case(s, case.id)
        assert item.media_id == media_id
        assert item.report_id == report.id
        assert item.reported_at is not None
        assert item.retain_until >= item.reported_at + timedelta(days=365)
        assert service.read_bytes(s, settings, item.id, actor=SYSTEM) == picture(1)
        entries = service.read_data(s, settings, item.id, actor=SYSTEM)["entries"]
    assert entries[0]["data"]["trigger"] == "decision"
    assert entries[-1]["report_id"] == report.id
