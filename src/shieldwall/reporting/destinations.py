"""Where reports go: destinations are plug-ins behind one protocol.

A :class:`Destination` says which configuration it still lacks (:meth:`missing`) and
delivers one report through a :class:`Steps` log (:meth:`deliver`): every step it completes
is recorded (and committed) before the next begins, and a step already recorded is never
done again, so a worker that crashed resumes where the last one stopped.

Built in: ``ncmec`` (the CyberTipline lifecycle) and one :class:`HotlineDestination` per
hotline in :data:`~shieldwall.integrations.hotlines.BUILTIN_HOTLINES` and
``reporting_hotlines`` (a signed JSON package). Plug-in packages add destinations through
the entry point group ``shieldwall.report_destinations`` (name -> factory(settings)).

Routing (:func:`route`): ``reporting_routes`` rules by the user's or the content's country,
first match wins, else ``reporting_default_destination``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Protocol

import httpx

from shieldwall.config import Settings
from shieldwall.integrations import hotlines
from shieldwall.integrations.cybertipline.client import (
    ENVIRONMENT_URLS,
    CyberTiplineClient,
    Environment,
)
from shieldwall.integrations.cybertipline.documents import file_details_xml, report_xml
from shieldwall.integrations.cybertipline.model import FileDetails, ReportData

__all__ = [
    "ENTRY_POINT_GROUP",
    "Destination",
    "HotlineDestination",
    "NcmecDestination",
    "Steps",
    "all_destinations",
    "get_destination",
    "route",
]

log = logging.getLogger(__name__)
ENTRY_POINT_GROUP = "shieldwall.report_destinations"


class Steps(Protocol):
    """The lifecycle log of one report, as a destination sees it."""

    report_id: int
    data: ReportData

    def ref(self, step: str, file_index: int | None = None) -> str | None:
        """The external reference a done step recorded ("" if none); None if not done."""

    def done(
        self, step: str, file_index: int | None = None, *, external_ref: str | None = None
    ) -> None:
        """Record (and commit) a completed step."""

    def read_file(self, file: FileDetails) -> bytes | None:
        """The bytes of a held file, or None when none are held (hash-only)."""


class Destination(Protocol):
    name: str
    title: str
    #: The outbox kind its reports travel under.
    kind: str

    def environment(self, settings: Settings) -> str: ...

    def missing(self, settings: Settings) -> list[str]:
        """Configuration this destination needs and does not have, in plain words."""

    def deliver(self, settings: Settings, steps: Steps) -> None:
        """Run (or resume) the lifecycle. Raise the client's ``Refused`` / ``Unavailable``
        (or ``ReportInvalid``) on failure."""


# ---- NCMEC ---------------------------------------------------------------------------------


class NcmecDestination:
    name = "ncmec"
    title = "NCMEC CyberTipline"
    kind = "cybertipline.report"

    def __init__(self, transport: httpx.BaseTransport | None = None) -> None:
        self.transport = transport

    def environment(self, settings: Settings) -> str:
        return settings.cybertipline_environment

    def base_url(self, settings: Settings) -> str:
        return (
            settings.cybertipline_url
            or ENVIRONMENT_URLS[Environment(settings.cybertipline_environment)]
        )

    def missing(self, settings: Settings) -> list[str]:
        out = []
        if not settings.cybertipline_username:
            out.append("the CyberTipline user name (SHIELDWALL_CYBERTIPLINE_USERNAME)")
        if settings.cybertipline_password is None:
            out.append("the CyberTipline password (SHIELDWALL_CYBERTIPLINE_PASSWORD)")
        return out

    def client(self, settings: Settings) -> CyberTiplineClient:
        password = settings.cybertipline_password
        return CyberTiplineClient(
            self.base_url(settings),
            settings.cybertipline_username,
            password.get_secret_value() if password is not None else "",
            timeout=settings.cybertipline_timeout_seconds,
            transport=self.transport,
        )

    def deliver(self, settings: Settings, steps: Steps) -> None:
        data = steps.data
        document = report_xml(data)  # validated before anything leaves
        with self.client(settings) as client:
            report_id = steps.ref("submit")
            if report_id is None:
                report_id = client.submit(document)
                steps.done("submit", external_ref=report_id)
            for index, file in enumerate(data.files):
                if steps.ref("fileinfo", index) is not None:
                    continue
                file_id = steps.ref("upload", index)
                if file_id is None:
                    blob = steps.read_file(file)
                    if blob is None:
                        continue  # hash-only: described in the report, nothing to upload
                    file_id = client.upload(report_id, file.file_name, blob)
                    steps.done("upload", index, external_ref=file_id)
                client.file_info(file_details_xml(report_id, file_id, file))
                steps.done("fileinfo", index)
            if steps.ref("finish") is None:
                client.finish(report_id)
                steps.done("finish", external_ref=report_id)

    def retract(self, settings: Settings, external_id: str) -> None:
        with self.client(settings) as client:
            client.retract(external_id)


# ---- hotlines without an API -------------------------------------------------------------


class HotlineDestination:
    kind = "hotline.report"

    def __init__(self, hotline: hotlines.Hotline) -> None:
        self.hotline = hotline
        self.name = hotline.name
        self.title = hotline.title

    def environment(self, settings: Settings) -> str:
        return "package"

    def missing(self, settings: Settings) -> list[str]:
        return []

    def outgoing_dir(self, settings: Settings) -> Path:
        return settings.data_dir / "reports" / "outgoing" / self.name

    def deliver(self, settings: Settings, steps: Steps) -> None:
        if steps.ref("package") is not None:
            return
        key = hotlines.load_signing_key(settings.data_dir / "reporting_signing_key.pem")
        report = steps.data.model_dump(mode="json")
        for file in report.get("files", []):
            for private in ("media_id", "evidence_id", "case_id"):
                file.pop(private, None)
        package = hotlines.build_package(
            self.hotline, report_id=steps.report_id, report=report, key=key
        )
        folder = self.outgoing_dir(settings)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"report-{steps.report_id}.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(package, indent=2, sort_keys=True), encoding="utf-8")
        tmp.replace(path)
        steps.done("package", external_ref=path.name)


# ---- registry and routing ------------------------------------------------------------------

DestinationFactory = Callable[[Settings], Destination]
_OVERRIDES: dict[str, Destination] = {}


def register(destination: Destination) -> None:
    """Add or replace a destination at run time (tests, embedders)."""
    _OVERRIDES[destination.name] = destination


def unregister(name: str) -> None:
    _OVERRIDES.pop(name, None)


def _configured_hotlines(settings: Settings) -> dict[str, hotlines.Hotline]:
    found = dict(hotlines.BUILTIN_HOTLINES)
    for spec in settings.reporting_hotlines:
        name = str(spec.get("name", "")).strip()
        if name:
            found[name] = hotlines.Hotline(
                name,
                str(spec.get("title") or name),
                str(spec.get("country") or ""),
                str(spec.get("contact") or ""),
            )
    return found


def all_destinations(settings: Settings) -> dict[str, Destination]:
    out: dict[str, Destination] = {"ncmec": NcmecDestination()}
    for name, hotline in _configured_hotlines(settings).items():
        out[name] = HotlineDestination(hotline)
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        try:
            out[entry.name] = entry.load()(settings)
        except Exception:
            log.exception("reporting.destination_plugin_failed", extra={"name": entry.name})
    out.update(_OVERRIDES)
    return out


def get_destination(settings: Settings, name: str) -> Destination:
    found = all_destinations(settings)
    if name not in found:
        known = ", ".join(sorted(found))
        raise KeyError(f"unknown report destination {name!r}; known: {known}")
    return found[name]


def route(settings: Settings, *, user_country: str | None, content_country: str | None) -> str:
    """The destination for a report: the first rule whose country matches the user's
    (``on: user``), the content's (``on: content``) or either (``on: any``, the default)."""
    for rule in settings.reporting_routes:
        country = str(rule.get("country", "")).upper()
        on = str(rule.get("on", "any"))
        places: list[str | None] = {
            "user": [user_country],
            "content": [content_country],
        }.get(on, [user_country, content_country])
        if country and country in places:
            return str(rule.get("destination", settings.reporting_default_destination))
    return settings.reporting_default_destination


def describe(settings: Settings) -> list[dict[str, Any]]:
    """Every destination with what it lacks (for the CLI and the web page)."""
    return [
        {"name": d.name, "title": d.title, "kind": d.kind, "missing": d.missing(settings)}
        for d in all_destinations(settings).values()
    ]
