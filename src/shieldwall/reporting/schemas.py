"""What the reporting capability shows (API, CLI, web) and the words for its states."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

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


class ReportContext(BaseModel):
    """What the platform knows beyond the case, when it supplied it: the reported user's
    details, recipients, victims, jurisdictions and file annotations."""

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
