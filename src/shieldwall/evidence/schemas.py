"""What the evidence vault answers and accepts (pydantic)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

MAX_REASON = 500


class FileState(StrEnum):
    HELD = "held"
    NOT_HELD = "not_held"


class NoFileReason(StrEnum):
    """Why an item holds no file; :data:`NO_FILE_TEXT` says it in plain words."""

    HASH_ONLY = "hash_only"
    MEDIA_EXPIRED = "media_expired"
    MEDIA_UNREADABLE = "media_unreadable"


NO_FILE_TEXT: dict[str, str] = {
    NoFileReason.HASH_ONLY: "No file held: the platform sent hashes only, never the bytes.",
    NoFileReason.MEDIA_EXPIRED: "No file held: the media kept for review had already been "
    "deleted by its retention when the evidence was preserved.",
    NoFileReason.MEDIA_UNREADABLE: "No file held: the media kept for review could not be "
    "read (missing file or unknown key) when the evidence was preserved.",
}


class HoldOut(BaseModel):
    id: int
    reason: str
    placed_by: str
    placed_at: datetime
    released_by: str | None = None
    released_at: datetime | None = None
    release_reason: str | None = None


class EvidenceOut(BaseModel):
    """One evidence item's metadata (never its content or report data)."""

    id: int
    case_id: int
    media_id: int | None
    report_id: int | None
    file_held: bool
    no_file_reason: str | None = Field(
        None, description="Why no file is held: hash_only, media_expired or media_unreadable."
    )
    no_file_text: str | None = Field(None, description="The same in plain words.")
    content_sha256: str | None = Field(None, description="SHA-256 of the preserved file.")
    content_size: int | None
    media_type: str | None
    data_sha256: str = Field(description="SHA-256 of the preserved report-data document.")
    key_id: str = Field(description="Which master key wraps the item's data keys (an id).")
    legal_hold: bool
    hold: HoldOut | None = Field(None, description="The active legal hold, if any.")
    preserved_by: str
    created_at: datetime
    reported_at: datetime | None
    retain_until: datetime


class EvidencePage(BaseModel):
    items: list[EvidenceOut]
    next_after_id: int | None = Field(None, description="Pass as after_id for the next page.")


class HoldBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(
        min_length=1,
        max_length=MAX_REASON,
        description="Why: the legal matter, e.g. 'preservation request 2026-114'.",
    )


class VerifyProblem(BaseModel):
    evidence_id: int
    part: str = Field(description="content or data")
    problem: str


class VerifyResult(BaseModel):
    checked: int
    failures: list[VerifyProblem]

    @property
    def ok(self) -> bool:
        return not self.failures


class PurgeResult(BaseModel):
    purged: int
    held_skipped: int
    orphan_files: int
