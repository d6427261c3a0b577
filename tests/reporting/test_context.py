"""The platform's report context: the reported user's details reach the XML."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from lxml import etree

from shieldwall.api import create_app
from shieldwall.cases import service as cases
from shieldwall.config import Settings
from shieldwall.core.access import Principal, Scope
from shieldwall.db.engine import Database
from shieldwall.devtools.fake_cybertipline import FakeCyberTipline
from shieldwall.reporting import service
from tests.conftest import KeyFactory, auth
from tests.reporting.conftest import DecidedCase, worker

CONTEXT = {
    "screen_name": "someone",
    "display_names": ["Some One"],
    "profile_urls": ["https://example.org/u/someone"],
    "ip_capture_events": [
        {"ip_address": "192.0.2.10", "event_name": "Login", "date_time": "2026-05-01T10:00:00Z"}
    ],
    "device_ids": [{"id_type": "IDFA", "id_value": "device-1"}],
    "intended_recipients": [{"esp_identifier": "acct-9", "screen_name": "kid"}],
    "file_annotations": ["generativeAi"],
    "publicly_available": False,
}


@pytest.fixture
def api(db: Database, rsettings: Settings) -> Iterator[TestClient]:
    app = create_app(rsettings.model_copy(update={"outbox_in_server": False}), database=db)
    with TestClient(app, base_url="https://testserver", raise_server_exceptions=False) as c:
        yield c


def test_context_supplied_before_the_decision_is_reported(
    api: TestClient,
    db: Database,
    rsettings: Settings,
    make_key: KeyFactory,
    decided_case: DecidedCase,
    reviewer: Principal,
    fake: tuple[FakeCyberTipline, str],
) -> None:
    platform = auth(make_key([Scope.CASES_SUBMIT]))
    queued = decided_case("post-1")
    # a case whose decision queued no report gets its context first
    undecided = decided_case("post-2", account="acct-2", label="non_consensual_imagery")
    assert api.put(f"/v1/reports/contexts/{undecided.id}", json=CONTEXT).status_code == 401
    saved = api.put(f"/v1/reports/contexts/{undecided.id}", json=CONTEXT, headers=platform)
    assert saved.status_code == 200, saved.text
    assert saved.json() == {"case_id": undecided.id, "report_id": None}
    bad = api.put(
        f"/v1/reports/contexts/{undecided.id}", json={"user_country": "Canada"}, headers=platform
    )
    assert bad.status_code == 422
    assert api.put("/v1/reports/contexts/99999", json=CONTEXT, headers=platform).status_code == 404

    # the queued report of the first case is rebuilt with its context
    rebuilt = api.put(f"/v1/reports/contexts/{queued.id}", json=CONTEXT, headers=platform)
    assert rebuilt.status_code == 200
    assert rebuilt.json()["report_id"] is not None
    worker(db, rsettings).run_once(limit=1)
    report = next(iter(fake[0].reports.values()))
    root = etree.fromstring(report.xml)
    user = root.find("personOrUserReported")
    assert user is not None
    assert user.findtext("screenName") == "someone"
    assert user.findtext("ipCaptureEvent/eventName") == "Login"
    assert user.findtext("deviceId/idValue") == "device-1"
    assert root.findtext("intendedRecipient/screenName") == "kid"
    details = etree.fromstring(next(iter(report.file_details.values())))
    assert details.find("fileAnnotations/generativeAi") is not None
    assert details.findtext("publiclyAvailable") == "false"

    # once sent, the context can no longer change the report
    late = api.put(f"/v1/reports/contexts/{queued.id}", json=CONTEXT, headers=platform)
    assert late.status_code == 409


def test_stored_context_routes_by_country(
    api: TestClient,
    db: Database,
    rsettings: Settings,
    make_key: KeyFactory,
    decided_case: DecidedCase,
    reviewer: Principal,
) -> None:
    platform = auth(make_key([Scope.CASES_SUBMIT]))
    routed = rsettings.model_copy(
        update={"reporting_routes": [{"country": "CA", "on": "user", "destination": "cybertip_ca"}]}
    )
    case = decided_case("post-3", label="non_consensual_imagery")  # no report
    assert (
        api.put(
            f"/v1/reports/contexts/{case.id}", json={"user_country": "CA"}, headers=platform
        ).status_code
        == 200
    )
    with db.session() as s:
        report = service.queue_for_case(s, routed, cases.get_case(s, case.id), actor=reviewer)
        assert report.destination == "cybertip_ca"
