"""What the reporting capability shows (API, CLI, web) and the words for its states."""

from __future__ import annotations

import ipaddress
import re
from datetime import datetime
from enum import StrEnum
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, ValidationInfo, field_validator

from shieldwall.integrations.cybertipline.model import (
    DeviceId,
    EstimatedLocation,
    FileAnnotation,
    IpCaptureEvent,
    PersonDetails,
    UserDetails,
)

__all__ = [
    "STATUS_WORDS",
    "STEP_WORDS",
    "STORED",
    "ContextSaved",
    "ReportContext",
    "ReportOut",
    "ReportPage",
    "ReportStatus",
    "StepOut",
]


class ReportStatus(StrEnum):
    QUEUED = "queued"
    """Waiting to be sent (or, grouped by user, for more of the user's cases)."""
    SENDING = "sending"
    RETRYING = "retrying"
    """The last attempt failed for a temporary reason; the outbox tries again."""
    SENT = "sent"
    FAILED = "failed"
    """The destination refused it: a person must look (``last_error`` says why)."""
    RETRACTED = "retracted"


STATUS_WORDS: dict[str, str] = {
    "queued": "waiting to be sent",
    "sending": "being sent now",
    "retrying": "a temporary failure; it will be tried again automatically",
    "sent": "sent and finished",
    "failed": "refused by the destination; it will not be retried until someone fixes it",
    "retracted": "retracted",
}

STEP_WORDS: dict[str, str] = {
    "submit": "report submitted",
    "upload": "file uploaded",
    "fileinfo": "file details sent",
    "finish": "report finished",
    "retract": "report retracted",
    "package": "signed package written",
    "attempt": "attempt",
}


#: NCMEC's free-text type (``shortText`` in cybertipline.xsd) holds at most 3000 characters.
MAX_URL_LENGTH = 3000
MAX_DISPLAY_NAME_LENGTH = 200
#: Most items a list of the context may hold, by field name (the recipients' and victims'
#: lists too); a list not named here holds at most :data:`DEFAULT_MAX_ITEMS`.
MAX_ITEMS: dict[str, int] = {
    "display_names": 50,
    "profile_urls": 50,
    "ip_capture_events": 1000,
    "device_ids": 100,
    "intended_recipients": 100,
    "victims": 100,
    "file_annotations": len(FileAnnotation),
    "urls": 1000,
}
DEFAULT_MAX_ITEMS = 100
#: The validation context for a context read back from storage: it was accepted when it was
#: saved, and a check added since must not make the case page or a decision fail.
STORED = {"stored": True}

#: Characters XML cannot carry or a one-line field should not: controls (C0, DEL, C1),
#: lone surrogates, U+FFFE and U+FFFF. Free text (``additional_info``) may hold line breaks
#: and tabs.
_NOT_ONE_LINE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
_NOT_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
_URL_FIELDS = frozenset({"profile_urls", "urls"})


def _check_url(value: str, path: str) -> None:
    if len(value) > MAX_URL_LENGTH:
        raise ValueError(f"{path}: a URL is at most {MAX_URL_LENGTH} characters ({len(value)})")
    if any(c.isspace() for c in value):
        raise ValueError(f"{path}: a URL cannot contain spaces")
    try:
        parts = urlsplit(value)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        raise ValueError(f"{path}: not a URL that can be parsed") from None
    if parts.scheme.lower() not in ("http", "https") or not host:
        raise ValueError(f"{path}: only http:// and https:// URLs with a host are allowed")


def _check_text(value: str, name: str, path: str) -> None:
    """One string of the context; the messages never quote it (it is personal data)."""
    if (_NOT_TEXT if name == "additional_info" else _NOT_ONE_LINE).search(value):
        raise ValueError(
            f"{path}: control characters and lone surrogates are not allowed "
            "(a CyberTipline report cannot carry them)"
        )
    if name == "ip_address":
        try:
            ipaddress.ip_address(value)
        except ValueError:
            raise ValueError(f"{path}: not an IPv4 or IPv6 address") from None
    elif name in _URL_FIELDS:
        _check_url(value, path)
    elif name == "display_names":
        if not value.strip():
            raise ValueError(f"{path}: a display name cannot be empty")
        if len(value) > MAX_DISPLAY_NAME_LENGTH:
            raise ValueError(
                f"{path}: a display name is at most {MAX_DISPLAY_NAME_LENGTH} characters"
            )


def _check_deliverable(value: object, name: str, path: str) -> None:
    """``value`` (a field named ``name``, found at ``path``) and everything in it can go into
    a CyberTipline report; ``ValueError`` naming the path otherwise."""
    if isinstance(value, BaseModel):
        for field in type(value).model_fields:
            _check_deliverable(getattr(value, field), field, f"{path}.{field}")
    elif isinstance(value, tuple | list):
        limit = MAX_ITEMS.get(name, DEFAULT_MAX_ITEMS)
        if len(value) > limit:
            raise ValueError(f"{path}: at most {limit} items ({len(value)})")
        for i, item in enumerate(value):
            _check_deliverable(item, name, f"{path}[{i}]")
    elif isinstance(value, str):
        _check_text(value, name, path)


class ReportContext(BaseModel):
    """What the platform knows beyond the case, when it supplied it: the reported user's
    details, recipients, victims, jurisdictions and file annotations.

    Everything in it must be deliverable in a CyberTipline report, checked when it arrives
    (not when the outbox sends it): IP addresses are IPv4 or IPv6 addresses, profile URLs
    and ``urls`` are http(s) URLs of at most :data:`MAX_URL_LENGTH` characters, no text
    holds control characters, and lists hold at most :data:`MAX_ITEMS` items. A context
    read back from storage (validation context :data:`STORED`) is not checked again."""

    screen_name: str | None = Field(None, max_length=200)
    display_names: tuple[str, ...] = ()
    profile_urls: tuple[str, ...] = ()
    ip_capture_events: tuple[IpCaptureEvent, ...] = ()
    device_ids: tuple[DeviceId, ...] = ()
    estimated_location: EstimatedLocation | None = None
    person: PersonDetails | None = None
    intended_recipients: tuple[UserDetails, ...] = ()
    victims: tuple[UserDetails, ...] = ()
    user_country: str | None = Field(None, pattern=r"^[A-Z]{2}$")
    content_country: str | None = Field(None, pattern=r"^[A-Z]{2}$")
    file_annotations: tuple[FileAnnotation, ...] = ()
    publicly_available: bool | None = None
    urls: tuple[str, ...] = ()

    @field_validator("*", mode="after")
    @classmethod
    def _deliverable(cls, value: object, info: ValidationInfo) -> object:
        if not (info.context or {}).get("stored"):
            _check_deliverable(value, info.field_name or "", info.field_name or "")
        return value


class ContextSaved(BaseModel):
    case_id: int
    report_id: int | None = Field(description="The case's report, rebuilt, if one is queued.")


class StepOut(BaseModel):
    step: str
    file_index: int | None
    outcome: str
    external_ref: str | None
    detail: str
    at: datetime
    words: str


class ReportOut(BaseModel):
    id: int
    destination: str
    environment: str
    status: str
    status_words: str
    case_id: int
    case_ids: list[int]
    external_id: str | None = Field(description="The destination's id (NCMEC's report id).")
    file_count: int
    files_held: int = Field(description="Files whose bytes are held and uploaded.")
    attempts: int
    last_error: str | None
    delivery_status: str | None = Field(description="The outbox item's state.")
    next_attempt_at: datetime | None
    missing: list[str] = Field(description="Required fields missing before it can be sent.")
    created_at: datetime
    sent_at: datetime | None
    retracted_at: datetime | None
    steps: list[StepOut] = []


class ReportPage(BaseModel):
    reports: list[ReportOut]
    next_before_id: int | None
