"""Hotlines without an API: routing by jurisdiction, signed JSON packages, plug-ins."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from shieldwall.cases import service as cases
from shieldwall.config import Settings
from shieldwall.db.engine import Database
from shieldwall.integrations import hotlines
from shieldwall.reporting import destinations, service
from shieldwall.reporting.models import Report
from shieldwall.reporting.schemas import ReportContext
from tests.conftest import SYSTEM
from tests.reporting.conftest import DecidedCase, worker

ROUTES = [
    {"country": "CA", "on": "user", "destination": "cybertip_ca"},
    {"country": "GB", "on": "content", "destination": "iwf"},
    {"country": "AU", "destination": "esafety"},
]


def test_route_by_user_or_content_country_first_match_else_default(settings: Settings) -> None:
    s = settings.model_copy(update={"reporting_routes": ROUTES})
    assert destinations.route(s, user_country="CA", content_country=None) == "cybertip_ca"
    assert destinations.route(s, user_country="GB", content_country=None) == "ncmec"
    assert destinations.route(s, user_country=None, content_country="GB") == "iwf"
    assert destinations.route(s, user_country=None, content_country="AU") == "esafety"
    assert destinations.route(s, user_country="US", content_country="US") == "ncmec"
    other = s.model_copy(update={"reporting_default_destination": "inhope"})
    assert destinations.route(other, user_country="FR", content_country=None) == "inhope"


def test_canadian_user_goes_to_cybertip_ca_as_a_signed_package(
    db: Database, rsettings: Settings, decided_case: DecidedCase
) -> None:
    routed = rsettings.model_copy(
        update={"reporting_routes": ROUTES, "reporting_labels": []}  # queue by hand below
    )
    case = decided_case(settings_=routed)
    with db.session() as s:
        live = cases.get_case(s, case.id)
        report = service.queue_for_case(
            s, routed, live, actor=SYSTEM, context=ReportContext(user_country="CA")
        )
        report_id = report.id
        assert report.destination == "cybertip_ca"
    assert worker(db, routed).run_once(limit=1)["sent"] == 1
    path = routed.data_dir / "reports" / "outgoing" / "cybertip_ca" / f"report-{report_id}.json"
    package = json.loads(path.read_text())
    hotlines.verify_package(package)
    assert package["destination"]["country"] == "CA"
    assert package["report"]["reporter"]["company"] == "Example Social"
    files = package["report"]["files"]
    assert files
    assert all("media_id" not in f and "evidence_id" not in f for f in files)
    assert files[0]["original_hashes"]
    with db.session() as s:
        row = s.scalars(select(Report).where(Report.id == report_id)).one()
        assert row.status == "sent"
        assert row.environment == "package"

    tampered = json.loads(path.read_text())
    tampered["report"]["incident_type"] = "Child Sex Tourism"
    with pytest.raises(hotlines.PackageInvalid):
        hotlines.verify_package(tampered)
    # a receiver pinning another key refuses it
    other_key = hotlines.load_signing_key(routed.data_dir / "other.pem")
    other = hotlines.build_package(
        hotlines.BUILTIN_HOTLINES["iwf"], report_id=1, report={}, key=other_key
    )
    with pytest.raises(hotlines.PackageInvalid):
        hotlines.verify_package(other, public_key=package["signature"]["public_key"])


def test_configured_hotline_and_plugin_destination(settings: Settings) -> None:
    s = settings.model_copy(
        update={"reporting_hotlines": [{"name": "nz_dia", "title": "NZ DIA", "country": "NZ"}]}
    )
    found = destinations.all_destinations(s)
    assert {"ncmec", "cybertip_ca", "iwf", "esafety", "inhope", "nz_dia"} <= set(found)

    class Recorder:
        name = "recorder"
        title = "Test recorder"
        kind = "hotline.report"

        def environment(self, settings: Settings) -> str:
            return "test"

        def missing(self, settings: Settings) -> list[str]:
            return ["a thing"]

        def deliver(self, settings: Settings, steps: destinations.Steps) -> None:
            steps.done("package", external_ref="recorded")

    destinations.register(Recorder())
    try:
        assert destinations.get_destination(s, "recorder").missing(s) == ["a thing"]
        assert "a thing" in service.missing_fields(s, "recorder")
    finally:
        destinations.unregister("recorder")
    with pytest.raises(KeyError, match="unknown report destination"):
        destinations.get_destination(s, "recorder")
