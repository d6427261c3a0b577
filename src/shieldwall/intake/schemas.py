"""What goes in and out of intake (user reports, survivors' takedown requests): pydantic only.

Hash values are checked with :func:`shieldwall.core.signals.normalise`, so a bad one is
answered with its position (``hashes.3.value: pdq hash must be 64 hex characters``) and
nothing is stored.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from shieldwall.core.errors import InvalidInput
from shieldwall.core.signals import SignalType, normalise
from shieldwall.core.taxonomy import ReportCategory

#: Longest platform reference (content, account, conversation, reporter id).
MAX_REF = 200
#: Longest URL a report may point at.
MAX_URL = 2048
#: Most hashes one user report may carry.
MAX_REPORT_HASHES = 20
#: Hard cap on any free text field, whatever the settings say (the settings are lower).
MAX_TEXT_HARD = 100_000
#: Longest contact (an e-mail address is at most 320 characters).
MAX_CONTACT = 320
#: Hard cap on hashes in one takedown request (the ``takedown_max_hashes`` setting is lower).
MAX_TAKEDOWN_HASHES_HARD = 10_000
#: Longest hash value (a long video's vPDQ fits easily).
MAX_HASH_VALUE = 1_000_000

#: The header carrying a takedown request's status token.
STATUS_TOKEN_HEADER = "X-Status-Token"  # noqa: S105 - a header name, not a secret


def _no_controls(value: str, what: str) -> str:
    if any(unicodedata.category(c) == "Cc" for c in value):
        raise ValueError(f"{what} must not contain control characters (line breaks, tabs...)")
    return value


Ref = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_REF)]


class HashIn(BaseModel):
    """One hash: ``signal_type`` and ``value`` in python-threatexchange's formats."""

    model_config = ConfigDict(extra="forbid")

    signal_type: SignalType = Field(description="md5, sha1, sha256, pdq, video_md5 or vpdq.")
    value: str = Field(min_length=1, max_length=MAX_HASH_VALUE)
    quality: int | None = Field(None, ge=0, le=100, description="PDQ quality (pdq only).")

    @field_validator("signal_type", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("value")
    @classmethod
    def _canonical(cls, value: str, info: ValidationInfo) -> str:
        kind = info.data.get("signal_type")
        if kind is None:
            return value  # the signal type is already reported as wrong
        try:
            return normalise(kind, value)
        except InvalidInput as exc:
            raise ValueError(exc.message) from None

    @model_validator(mode="after")
    def _quality_for_pdq_only(self) -> HashIn:
        if self.quality is not None and self.signal_type is not SignalType.PDQ:
            raise ValueError(f"quality applies to pdq hashes only, not {self.signal_type.value}")
        return self

    @property
    def pair(self) -> tuple[str, str]:
        return self.signal_type.value, self.value


def _unique(hashes: list[HashIn]) -> list[HashIn]:
    """The hashes without repeats (the first of each kept), in the order given."""
    seen: set[tuple[str, str]] = set()
    out: list[HashIn] = []
    for item in hashes:
        if item.pair not in seen:
            seen.add(item.pair)
            out.append(item)
    return out


# ---- user reports --------------------------------------------------------------------------


class UserReportIn(BaseModel):
    """A report by one of the platform's users, sent by the platform's servers."""

    model_config = ConfigDict(extra="forbid")

    reporter_id: Ref = Field(
        description="The platform's id for the person reporting (pseudonymous is fine). Used "
        "for rate limiting and kept only as a keyed hash."
    )
    category: ReportCategory = Field(description="What the report is about (core.taxonomy).")
    child_in_danger: bool = Field(
        False, description="The reporter says a child is in danger now: reviewed first."
    )
    content_id: Ref | None = Field(None, description="The platform's id of the content.")
    url: HttpUrl | None = Field(None, description="Where the content is.")
    hashes: list[HashIn] = Field(
        default_factory=list, max_length=MAX_REPORT_HASHES, description="Hashes of the media."
    )
    account_id: Ref | None = Field(None, description="The account reported (or that posted).")
    conversation_id: Ref | None = Field(None, description="The conversation reported.")
    text: str = Field(
        "",
        max_length=MAX_TEXT_HARD,
        description="The reporter's own words (encrypted at rest; shown to reviewers only). "
        "At most `user_report_max_text_chars` characters.",
    )

    @field_validator("reporter_id", "content_id", "account_id", "conversation_id")
    @classmethod
    def _plain_ref(cls, value: str | None, info: ValidationInfo) -> str | None:
        return None if value is None else _no_controls(value, info.field_name or "value")

    @field_validator("url")
    @classmethod
    def _short_url(cls, value: HttpUrl | None) -> HttpUrl | None:
        if value is not None and len(str(value)) > MAX_URL:
            raise ValueError(f"url is longer than {MAX_URL} characters")
        return value

    @field_validator("hashes")
    @classmethod
    def _dedupe(cls, value: list[HashIn]) -> list[HashIn]:
        return _unique(value)

    @model_validator(mode="after")
    def _points_at_something(self) -> UserReportIn:
        if not (
            self.content_id or self.url or self.hashes or self.account_id or self.conversation_id
        ):
            raise ValueError(
                "say what is reported: content_id, url, hashes, account_id or conversation_id"
            )
        return self


class UserReportReceipt(BaseModel):
    id: int = Field(description="The report id (quote it to the reporter if you like).")
    status: str = Field("received", description="Always 'received': reviewers take it from here.")
    received_at: datetime


class UserReportOut(BaseModel):
    """A report as a reviewer sees it (``cases:read``); every view is logged."""

    id: int
    received_at: datetime
    submitted_by: str
    reporter: str = Field(
        description="A pseudonym for the reporter (the same person gets the same one), not "
        "their id."
    )
    category: ReportCategory
    child_in_danger: bool
    content_id: str | None
    url: str | None
    account_id: str | None
    conversation_id: str | None
    hashes: list[dict[str, Any]]
    text: str
    case_id: int | None


# ---- takedown requests ---------------------------------------------------------------------


class TakedownStatus(StrEnum):
    """Where a takedown request stands, as the requester sees it."""

    RECEIVED = "received"
    IN_REVIEW = "in_review"
    IN_PLACE = "in_place"
    DECLINED = "declined"


class TakedownRequestIn(BaseModel):
    """A takedown request: hashes only; everything else is optional and the requester's choice.

    ``shieldwall survivor hash`` writes exactly this shape.
    """

    model_config = ConfigDict(extra="forbid")

    hashes: list[HashIn] = Field(
        min_length=1,
        max_length=MAX_TAKEDOWN_HASHES_HARD,
        description="At most `takedown_max_hashes` hashes (md5, sha1, sha256, pdq, video_md5, "
        "vpdq).",
    )
    category: ReportCategory | None = Field(
        None, description="Optional: what the imagery is (e.g. child_sexual_exploitation)."
    )
    on_behalf: bool = Field(False, description="Sent by a helper acting for the survivor.")
    contact: str | None = Field(
        None,
        max_length=MAX_CONTACT,
        description="Optional: how to reach you (encrypted at rest; reviewers only).",
    )
    message: str | None = Field(
        None,
        max_length=MAX_TEXT_HARD,
        description="Optional: anything you want the reviewers to know (encrypted at rest). "
        "At most `takedown_max_message_chars` characters.",
    )

    @field_validator("contact")
    @classmethod
    def _one_line(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = _no_controls(value.strip(), "contact")
        return value or None

    @field_validator("message")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value if value and value.strip() else None

    @field_validator("hashes")
    @classmethod
    def _dedupe(cls, value: list[HashIn]) -> list[HashIn]:
        return _unique(value)


class TakedownReceipt(BaseModel):
    id: int
    status_token: str = Field(
        description="Shown once, never again: keep it to check progress "
        f"(send it in the {STATUS_TOKEN_HEADER} header)."
    )
    status: TakedownStatus
    status_url: str = Field(description="Where to check progress (GET, with the token).")
    received_at: datetime
    hash_count: int


class TakedownStatusOut(BaseModel):
    """What the requester sees: progress only, never who reviewed it."""

    id: int
    status: TakedownStatus
    explanation: str = Field(description="The status in plain words.")
    received_at: datetime
    updated_at: datetime
    hash_count: int
    in_place_since: datetime | None = Field(
        None, description="Since when matching copies are blocked here."
    )


class TakedownReviewOut(BaseModel):
    """A takedown request as a reviewer sees it (``cases:read``): the hashes and what the
    requester chose to share, nothing else. Every view is logged."""

    id: int
    status: TakedownStatus
    received_at: datetime
    category: ReportCategory | None
    on_behalf: bool
    hashes: list[dict[str, Any]]
    contact: str | None
    message: str | None
    case_id: int | None
    in_place_since: datetime | None
    bank_entry_ids: list[int]
