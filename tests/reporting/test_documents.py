"""The CyberTipline XML: built in NCMEC's element order, validated before it leaves."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from lxml import etree

from shieldwall.integrations.cybertipline import documents
from shieldwall.integrations.cybertipline.model import (
    DeviceId,
    EstimatedLocation,
    FileDetails,
    IncidentType,
    IpCaptureEvent,
    PersonDetails,
    ReportAnnotation,
    ReportData,
    Reporter,
    UserDetails,
)

WHEN = datetime(2026, 5, 1, 12, 30, tzinfo=UTC)
REPORTER = Reporter(
    company="Example Social",
    reporting_email="safety@example.org",
    reporting_first_name="Sam",
    contact=PersonDetails(first_name="Lee", last_name="Park", email="le@example.org"),
    terms_of_service="https://example.org/terms",
    legal_url="https://example.org/legal",
)


def full_report() -> ReportData:
    user = UserDetails(
        esp_identifier="acct-1",
        esp_service="Example Social",
        screen_name="someone",
        display_names=("Some One", "S1"),
        profile_urls=("https://example.org/u/someone",),
        ip_capture_events=(
            IpCaptureEvent(ip_address="192.0.2.10", event_name="Login", date_time=WHEN, port=443),
            IpCaptureEvent(ip_address="2001:db8::1", event_name="Upload", possible_proxy=True),
        ),
        device_ids=(DeviceId(id_type="IDFA", id_value="device-1", event_name="Login"),),
        estimated_location=EstimatedLocation(country_code="US", region="CA"),
    )
    return ReportData(
        incident_type=IncidentType.ONLINE_ENTICEMENT,
        incident_at=WHEN,
        # given out of order: the builder writes the schema's order
        annotations=(ReportAnnotation.MINOR_TO_MINOR_INTERACTION, ReportAnnotation.SEXTORTION),
        reporter=REPORTER,
        reported_user=user,
        intended_recipients=(UserDetails(esp_identifier="acct-2", screen_name="kid"),),
        victims=(UserDetails(esp_identifier="acct-3"),),
        urls=("https://example.org/p/1",),
        additional_info="Reported from a decided case.",
    )


def test_full_report_is_valid_and_in_schema_order() -> None:
    xml = documents.report_xml(full_report())
    root = documents.validate(xml)
    assert [c.tag for c in root] == [
        "incidentSummary",
        "internetDetails",
        "reporter",
        "personOrUserReported",
        "intendedRecipient",
        "victim",
        "additionalInfo",
    ]
    summary = root.find("incidentSummary")
    assert summary is not None
    assert [c.tag for c in summary] == ["incidentType", "reportAnnotations", "incidentDateTime"]
    notes = summary.find("reportAnnotations")
    assert notes is not None
    assert [c.tag for c in notes] == ["sextortion", "minorToMinorInteraction"]
    assert summary.findtext("incidentDateTime") == "2026-05-01T12:30:00Z"
    user = root.find("personOrUserReported")
    assert user is not None
    assert [e.findtext("eventName") for e in user.findall("ipCaptureEvent")] == ["Login", "Upload"]
    assert user.findtext("deviceId/idValue") == "device-1"
    assert root.findtext("reporter/legalURL") == "https://example.org/legal"
    assert root.findtext("reporter/reportingPerson/email") == "safety@example.org"


def test_minimal_report_is_valid() -> None:
    data = ReportData(
        incident_type=IncidentType.CHILD_PORNOGRAPHY, incident_at=WHEN, reporter=REPORTER
    )
    root = documents.validate(documents.report_xml(data))
    assert root.find("personOrUserReported") is None


def test_text_is_escaped_not_injected() -> None:
    data = full_report().model_copy(update={"additional_info": "</additionalInfo><evil/>&"})
    root = documents.validate(documents.report_xml(data))
    assert root.findtext("additionalInfo") == "</additionalInfo><evil/>&"
    assert root.find("evil") is None


def test_file_details_valid_with_hashes_annotations_and_exif() -> None:
    details = FileDetails(
        file_name="upload-7.png",
        exif_viewed_by_esp=False,
        publicly_available=True,
        industry_classification="B2",
        annotations=("liveStreaming", "generativeAi", "possibleSelfProduction"),
        original_hashes=(("md5", "a" * 32), ("sha256", "b" * 64), ("vpdq", "ignored")),
        exif=(("Make", "Camera"),),
        ip_capture_events=(IpCaptureEvent(ip_address="192.0.2.10", event_name="Upload"),),
    )
    root = documents.validate(documents.file_details_xml("90000001", "file-1", details))
    assert root.findtext("industryClassification") == "B2"
    assert root.findtext("publiclyAvailable") == "true"
    annotations = root.find("fileAnnotations")
    assert annotations is not None
    assert [c.tag for c in annotations] == [
        "possibleSelfProduction",
        "liveStreaming",
        "generativeAi",
    ]
    hashes = root.findall("originalFileHash")
    assert [h.get("hashType") for h in hashes] == ["MD5", "SHA256"]  # vpdq has no NCMEC name
    assert root.find("details").get("type") == "EXIF"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("xml", "fragment"),
    [
        (b"<report><incidentSummary/></report>", "incidentType"),
        (b"<report>", "not well-formed"),
        (b"<fileDetails><reportId>-1</reportId><fileId>x</fileId></fileDetails>", "reportId"),
    ],
)
def test_invalid_documents_are_refused_with_reasons(xml: bytes, fragment: str) -> None:
    with pytest.raises(documents.ReportInvalid) as caught:
        documents.validate(xml)
    assert any(fragment in p for p in caught.value.problems)


def test_unknown_incident_type_refused_by_schema() -> None:
    xml = documents.report_xml(full_report())
    tampered = xml.replace(b"Online Enticement of Children for Sexual Acts", b"Something else")
    with pytest.raises(documents.ReportInvalid):
        documents.validate(tampered)


def test_element_out_of_order_refused_by_schema() -> None:
    root = etree.fromstring(documents.report_xml(full_report()))
    reporter = root.find("reporter")
    assert reporter is not None
    root.remove(reporter)
    root.append(reporter)  # reporter after victim: NCMEC refuses out-of-order elements
    with pytest.raises(documents.ReportInvalid):
        documents.validate(etree.tostring(root))


def test_entities_are_not_resolved() -> None:
    xml = (
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b"<reportResponse><responseCode>0</responseCode><reportId>&x;</reportId></reportResponse>"
    )
    reply = documents.parse_response(xml)
    assert "root:" not in (reply.get("reportId") or "")


def test_parse_replies() -> None:
    ok = documents.parse_response(
        b"<reportResponse><responseCode>0</responseCode><responseDescription>Success"
        b"</responseDescription><reportId>123</reportId></reportResponse>"
    )
    assert ok.ok
    assert ok.get("reportId") == "123"
    done = documents.parse_response(
        b"<reportDoneResponse><responseCode>0</responseCode><reportId>1</reportId>"
        b"<files><fileId>a</fileId><fileId>b</fileId></files></reportDoneResponse>"
    )
    assert done.file_ids == ("a", "b")
    with pytest.raises(ValueError, match="not well-formed"):
        documents.parse_response(b"\x00garbage")
