"""The XML documents of NCMEC's ESP Reporting API: build, validate, read replies.

:func:`report_xml` builds the ``<report>`` sent to ``/submit``; :func:`file_details_xml`
the ``<fileDetails>`` sent to ``/fileinfo``. Both validate what they built against
``cybertipline.xsd`` (shieldwall's schema for the subset it produces) and raise
:class:`ReportInvalid` — never sending — when it does not conform. :func:`parse_response`
reads NCMEC's replies (``reportResponse``, ``reportDoneResponse``) with a parser that
resolves no entities and fetches nothing.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from typing import Any

from lxml import etree

from shieldwall.integrations.cybertipline.model import (
    DeviceId,
    FileAnnotation,
    FileDetails,
    IpCaptureEvent,
    PersonDetails,
    ReportAnnotation,
    ReportData,
    UserDetails,
)

__all__ = [
    "ReportInvalid",
    "Response",
    "file_details_xml",
    "parse_response",
    "report_xml",
    "schema",
    "validate",
]


class ReportInvalid(ValueError):
    """The document does not conform to the schema; ``problems`` lists each in plain words
    (element and reason, never the values)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems) or "invalid document")
        self.problems = problems


@functools.cache
def schema() -> etree.XMLSchema:
    text = resources.files(__package__).joinpath("cybertipline.xsd").read_bytes()
    return etree.XMLSchema(etree.fromstring(text, _safe_parser()))


def _safe_parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def validate(document: bytes) -> etree._Element:
    """Parse and validate ``document``; returns its root or raises :class:`ReportInvalid`."""
    try:
        root = etree.fromstring(document, _safe_parser())
    except etree.XMLSyntaxError as exc:
        raise ReportInvalid([f"not well-formed XML (line {exc.lineno})"]) from None
    xsd = schema()
    if not xsd.validate(root):
        problems = []
        for error in xsd.error_log:
            # lxml's message names the element and the rule; values are never quoted by
            # the schema rules used here except enumerations, which are public vocabulary.
            problems.append(f"line {error.line}: {error.message}")
        raise ReportInvalid(problems[:20])
    return root


# ---- building ----------------------------------------------------------------------------


def _iso(value: datetime) -> str:
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _add(parent: etree._Element, tag: str, text: str | None = None) -> etree._Element:
    child = etree.SubElement(parent, tag)
    if text is not None:
        child.text = text
    return child


def _opt(parent: etree._Element, tag: str, text: str | None) -> None:
    if text is not None and text.strip():
        _add(parent, tag, text.strip())


def _person(parent: etree._Element, tag: str, person: PersonDetails) -> None:
    node = _add(parent, tag)
    _opt(node, "firstName", person.first_name)
    _opt(node, "lastName", person.last_name)
    _opt(node, "phone", person.phone)
    _opt(node, "email", person.email)


def _ip_event(parent: etree._Element, event: IpCaptureEvent) -> None:
    node = _add(parent, "ipCaptureEvent")
    _add(node, "ipAddress", event.ip_address)
    if event.event_name is not None:
        _add(node, "eventName", event.event_name.value)
    if event.date_time is not None:
        _add(node, "dateTime", _iso(event.date_time))
    if event.possible_proxy is not None:
        _add(node, "possibleProxy", _bool(event.possible_proxy))
    if event.port is not None:
        _add(node, "port", str(event.port))


def _device(parent: etree._Element, device: DeviceId) -> None:
    node = _add(parent, "deviceId")
    _add(node, "idType", device.id_type)
    _add(node, "idValue", device.id_value)
    if device.event_name is not None:
        _add(node, "eventName", device.event_name.value)
    if device.date_time is not None:
        _add(node, "dateTime", _iso(device.date_time))


def _user(parent: etree._Element, tag: str, person_tag: str, user: UserDetails) -> None:
    node = _add(parent, tag)
    if user.person is not None:
        _person(node, person_tag, user.person)
    _opt(node, "espIdentifier", user.esp_identifier)
    _opt(node, "espService", user.esp_service)
    _opt(node, "screenName", user.screen_name)
    for name in user.display_names:
        _opt(node, "displayName", name)
    for url in user.profile_urls:
        _opt(node, "profileUrl", url)
    for event in user.ip_capture_events:
        _ip_event(node, event)
    for device in user.device_ids:
        _device(node, device)
    if user.estimated_location is not None:
        loc = _add(node, "estimatedLocation")
        _opt(loc, "city", user.estimated_location.city)
        _opt(loc, "region", user.estimated_location.region)
        _add(loc, "countryCode", user.estimated_location.country_code)
    _opt(node, "additionalInfo", user.additional_info)


def _serialise(root: etree._Element) -> bytes:
    out: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    validate(out)
    return out


def report_xml(data: ReportData) -> bytes:
    """The ``<report>`` for ``/submit``, validated. Raises :class:`ReportInvalid`."""
    root = etree.Element("report")
    summary = _add(root, "incidentSummary")
    _add(summary, "incidentType", data.incident_type.value)
    _opt(summary, "escalateToHighPriority", data.escalate_to_high_priority)
    if data.annotations:
        notes = _add(summary, "reportAnnotations")
        for annotation in ReportAnnotation:  # the schema's order, not the caller's
            if annotation in data.annotations:
                _add(notes, annotation.value)
    _add(summary, "incidentDateTime", _iso(data.incident_at))
    if data.urls:
        web = _add(_add(root, "internetDetails"), "webPageIncident")
        for url in data.urls:
            _opt(web, "url", url)
    rp = data.reporter
    if rp is None:
        raise ReportInvalid(["no reporter: the reporting company and e-mail are not configured"])
    reporter = _add(root, "reporter")
    person = _add(reporter, "reportingPerson")
    _opt(person, "firstName", rp.reporting_first_name)
    _opt(person, "lastName", rp.reporting_last_name)
    _add(person, "email", rp.reporting_email)
    if rp.contact is not None:
        _person(reporter, "contactPerson", rp.contact)
    _add(reporter, "companyTemplate", rp.company)
    _opt(reporter, "termsOfService", rp.terms_of_service)
    _opt(reporter, "legalURL", rp.legal_url)
    if data.reported_user is not None:
        _user(root, "personOrUserReported", "personOrUserReportedPerson", data.reported_user)
    for recipient in data.intended_recipients:
        _user(root, "intendedRecipient", "intendedRecipientPerson", recipient)
    for victim in data.victims:
        _user(root, "victim", "victimPerson", victim)
    _opt(root, "additionalInfo", data.additional_info)
    return _serialise(root)


_HASH_TYPES = {
    "md5": "MD5",
    "sha1": "SHA1",
    "sha256": "SHA256",
    "pdq": "PDQ",
    "photodna": "PhotoDNA",
}


def file_details_xml(report_id: str, file_id: str, details: FileDetails) -> bytes:
    """The ``<fileDetails>`` for ``/fileinfo``, validated. Raises :class:`ReportInvalid`."""
    root = etree.Element("fileDetails")
    _add(root, "reportId", str(report_id))
    _add(root, "fileId", str(file_id))
    _opt(root, "originalFileName", details.original_file_name or details.file_name)
    _opt(root, "locationOfFile", details.location_of_file)
    _add(root, "fileViewedByEsp", _bool(details.viewed_by_esp))
    if details.exif_viewed_by_esp is not None:
        _add(root, "exifViewedByEsp", _bool(details.exif_viewed_by_esp))
    if details.publicly_available is not None:
        _add(root, "publiclyAvailable", _bool(details.publicly_available))
    _add(root, "fileRelevance", "Reported")
    if details.annotations:
        notes = _add(root, "fileAnnotations")
        for annotation in FileAnnotation:
            if annotation in details.annotations:
                _add(notes, annotation.value)
    _opt(root, "industryClassification", details.industry_classification)
    for kind, value in details.original_hashes:
        hash_type = _HASH_TYPES.get(kind.lower())
        if hash_type is None:
            continue  # a signal NCMEC has no name for (e.g. vpdq) is left out
        _add(root, "originalFileHash", value).set("hashType", hash_type)
    for event in details.ip_capture_events:
        _ip_event(root, event)
    for device in details.device_ids:
        _device(root, device)
    if details.exif:
        block = _add(root, "details")
        block.set("type", "EXIF")
        for name, value in details.exif:
            pair = _add(block, "nameValuePair")
            _add(pair, "name", name)
            _add(pair, "value", value)
    for info in details.additional_info:
        _opt(root, "additionalInfo", info)
    return _serialise(root)


# ---- replies -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Response:
    """One reply: ``responseCode`` 0 is success; ``values`` holds the other children's text
    (``reportId``, ``fileId``, ``hash``...); ``file_ids`` the finish reply's files."""

    root: str
    code: int | None
    description: str
    values: dict[str, str] = field(default_factory=dict)
    file_ids: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.code == 0

    def get(self, name: str) -> str | None:
        return self.values.get(name)


def parse_response(body: bytes) -> Response:
    """Read a reply; raises ``ValueError`` (plain words) when it is not XML we know."""
    try:
        root = etree.fromstring(body, _safe_parser())
    except (etree.XMLSyntaxError, ValueError):
        raise ValueError("the reply is not well-formed XML") from None
    values: dict[str, Any] = {}
    files: list[str] = []
    for child in root:
        if not isinstance(child.tag, str):
            continue
        if child.tag == "files":
            files.extend((f.text or "").strip() for f in child if f.tag == "fileId")
        else:
            values[child.tag] = (child.text or "").strip()
    code_text = values.pop("responseCode", None)
    try:
        code = int(code_text) if code_text is not None else None
    except ValueError:
        code = None
    return Response(
        root=str(root.tag),
        code=code,
        description=str(values.pop("responseDescription", ""))[:300],
        values=values,
        file_ids=tuple(f for f in files if f),
    )
