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
from shieldwall.reporting.schemas import STORED, ReportContext
from tests.api.problem_check import assert_problem
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


def test_the_fuzzed_context_is_refused_field_by_field(
    api: TestClient, make_key: KeyFactory, decided_case: DecidedCase
) -> None:
    # a NUL cannot go into the CyberTipline XML: it was accepted and failed later, in the outbox
    platform = auth(make_key([Scope.CASES_SUBMIT]))
    case = decided_case("post-4", label="non_consensual_imagery")
    fuzzed = {
        "display_names": ["\u0000"],
        "ip_capture_events": [{"ip_address": "999.1.1.1"}],
        "profile_urls": ["javascript:x", "http://[::1"],
        "urls": ["x" * 60_000],  # under the route's 64 KiB body limit
    }
    r = api.put(f"/v1/reports/contexts/{case.id}", json=fuzzed, headers=platform)
    body = assert_problem(r, 422, "invalid-input")
    assert {e["field"] for e in body["errors"]} == {
        "display_names",
        "ip_capture_events",
        "profile_urls",
        "urls",
    }
    assert "999.1.1.1" not in r.text  # the messages name the field, never the value
    assert "xxxx" not in r.text
    with_nothing = api.put(f"/v1/reports/contexts/{case.id}", json={}, headers=platform)
    assert with_nothing.status_code == 200, with_nothing.text


@pytest.mark.parametrize(
    ("context", "needle"),
    [
        ({"display_names": ["Some\u0000One"]}, "display_names[0]: control characters"),
        ({"display_names": ["ok", "line\nbreak"]}, "display_names[1]: control characters"),
        ({"display_names": ["\u0085"]}, "control characters"),
        ({"display_names": ["   "]}, "cannot be empty"),
        ({"display_names": ["x" * 201]}, "at most 200 characters"),
        ({"display_names": ["x"] * 51}, "at most 50 items"),
        ({"screen_name": "a\u001bb"}, "screen_name: control characters"),
        ({"ip_capture_events": [{"ip_address": "10.0.0"}]}, "not an IPv4 or IPv6 address"),
        ({"ip_capture_events": [{"ip_address": "::1::"}]}, "not an IPv4 or IPv6 address"),
        ({"ip_capture_events": [{"ip_address": " 10.0.0.1"}]}, "not an IPv4 or IPv6"),
        ({"profile_urls": ["ftp://example.org/u"]}, "only http:// and https://"),
        ({"profile_urls": ["https://"]}, "with a host"),
        ({"profile_urls": ["https://example.org:99999/"]}, "not a URL that can be parsed"),
        ({"profile_urls": ["https://exa mple.org/"]}, "cannot contain spaces"),
        ({"urls": ["https://example.org/" + "a" * 3000]}, "at most 3000 characters"),
        ({"urls": ["https://example.org/"] * 1001}, "at most 1000 items"),
        (
            {"victims": [{"ip_capture_events": [{"ip_address": "999.1.1.1"}]}]},
            "victims[0].ip_capture_events[0].ip_address",
        ),
        (
            {"intended_recipients": [{"esp_identifier": "a", "profile_urls": ["javascript:x"]}]},
            "intended_recipients[0].profile_urls[0]",
        ),
        ({"person": {"first_name": "A\u0000"}}, "person.first_name: control characters"),
        ({"device_ids": [{"id_type": "IDFA", "id_value": "\u0007"}]}, "device_ids[0].id_value"),
        ({"estimated_location": {"country_code": "US", "city": "X\u0000"}}, "city"),
    ],
)
def test_what_a_report_cannot_carry_is_refused(
    api: TestClient,
    make_key: KeyFactory,
    decided_case: DecidedCase,
    context: dict[str, object],
    needle: str,
) -> None:
    platform = auth(make_key([Scope.CASES_SUBMIT]))
    case = decided_case("post-5", label="non_consensual_imagery")
    r = api.put(f"/v1/reports/contexts/{case.id}", json=context, headers=platform)
    assert needle in assert_problem(r, 422, "invalid-input")["detail"]


def test_what_a_report_can_carry_is_accepted() -> None:
    context = ReportContext.model_validate(
        {
            **CONTEXT,
            "display_names": ["Zo\u00eb \U0001f468\u200d\U0001f469\u200d\U0001f467"],
            "profile_urls": [
                "HTTPS://Example.org:8443/u/someone?tab=1#top",
                "http://[2001:db8::1]/",
            ],
            "ip_capture_events": [
                {"ip_address": "2001:db8::10", "port": 443},
                {"ip_address": "::ffff:192.0.2.1"},
                {"ip_address": "192.0.2.10"},
            ],
            "victims": [
                {"esp_identifier": "acct-7", "additional_info": "first line\nsecond\tline"}
            ],
            "urls": ["https://example.org/p/1"],
        }
    )
    assert len(context.ip_capture_events) == 3


def test_a_context_stored_before_the_checks_still_loads(
    db: Database, rsettings: Settings, decided_case: DecidedCase, reviewer: Principal
) -> None:
    # the case page and a decision read the stored context: a check added since must not
    # make them fail
    case = decided_case("post-6", label="non_consensual_imagery")
    old = ReportContext.model_validate(
        {"ip_capture_events": [{"ip_address": "999.1.1.1"}], "user_country": "CA"}, context=STORED
    )
    with db.session() as s:
        service.set_context(s, rsettings, case.id, old, actor=reviewer)
    with db.session() as s:
        stored = service.stored_context(s, rsettings, case.id)
        assert stored is not None
        assert stored.ip_capture_events[0].ip_address == "999.1.1.1"
        assert service.missing_for_case(s, rsettings, cases.get_case(s, case.id)) is not None
