"""What goes in and out of the cases capability (service, API, CLI, web).

Two kinds of things live here: the small value objects other domains hand to
:func:`shieldwall.cases.service.attach_signal` (:class:`Subject`, :class:`SignalIn`), and the
pydantic models the API and CLI show (``*Out``) or accept (``*In``).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shieldwall.core.errors import InvalidInput

#: Longest platform reference (content id, account id, conversation id) kept.
MAX_REF = 200
#: Longest reviewer note, in characters.
MAX_NOTE = 4000


class CaseSource(StrEnum):
    """Where a signal came from."""

    HASH_MATCH = "hash_match"
    CLASSIFIER = "classifier"
    USER_REPORT = "user_report"
    SURVIVOR_REQUEST = "survivor_request"
    APPEAL = "appeal"
    #: text signals (issue 8): grooming indicators in a conversation, solicitation or
    #: advertising in a post or profile, a listed URL
    GROOMING = "grooming"
    SOLICITATION = "solicitation"
    URL_MATCH = "url_match"


class CaseStatus(StrEnum):
    """``open → in_review → decided → closed``; ``escalated`` is a side state of review."""

    OPEN = "open"
    IN_REVIEW = "in_review"
    ESCALATED = "escalated"
    DECIDED = "decided"
    CLOSED = "closed"


#: Statuses in which a case is "active": new signals about its subject join it.
ACTIVE_STATUSES: tuple[CaseStatus, ...] = (
    CaseStatus.OPEN,
    CaseStatus.IN_REVIEW,
    CaseStatus.ESCALATED,
)


class Outcome(StrEnum):
    VIOLATING = "violating"
    NOT_VIOLATING = "not_violating"
    ESCALATE = "escalate"


class DecisionState(StrEnum):
    """A decision row's state. Only ``final`` decisions trigger actions and hooks."""

    FINAL = "final"
    AWAITING_CONFIRMATION = "awaiting_confirmation"
    """The label needs a second reviewer (two-person rule)."""
    REJECTED = "rejected"
    """The second reviewer disagreed; the case went to escalation."""
    RECORDED = "recorded"
    """An ``escalate`` decision: it moves the case, it decides nothing."""


class SubjectKind(StrEnum):
    CONTENT = "content"
    ACCOUNT = "account"
    CONVERSATION = "conversation"


def clean_ref(value: str | None, *, field_name: str, required: bool = False) -> str | None:
    """A platform reference without surrounding spaces, at most :data:`MAX_REF` characters and
    without control, format or surrogate characters (a reference must look in the review UI
    like what it is); :class:`InvalidInput` otherwise (never quoting the value)."""
    text = (value or "").strip()
    if not text:
        if required:
            raise InvalidInput(f"{field_name} must not be empty", field=field_name)
        return None
    if len(text) > MAX_REF:
        raise InvalidInput(
            f"{field_name} is longer than {MAX_REF} characters ({len(text)})", field=field_name
        )
    if any(unicodedata.category(c) in _INVISIBLE for c in text):
        raise InvalidInput(
            f"{field_name} must not contain control, format (e.g. bidirectional overrides, "
            "zero-width) or surrogate characters",
            field=field_name,
        )
    return text


#: Unicode categories a reference may not hold: controls (Cc), format characters (Cf: the
#: bidirectional overrides that make ``abc\u202edcba`` display reversed in the review UI,
#: zero-width joiners) and lone surrogates (Cs).
_INVISIBLE = frozenset({"Cc", "Cf", "Cs"})


@dataclass(frozen=True)
class Subject:
    """What a case is about: one piece of content, one account or one conversation, named by
    the platform's own reference. ``account_ref`` is the account that posted the content (so
    a decision can suspend it), when known."""

    kind: str
    ref: str
    account_ref: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in SubjectKind._value2member_map_:
            known = ", ".join(k.value for k in SubjectKind)
            raise InvalidInput(
                f"unknown subject kind {self.kind[:40]!r}; known: {known}", field="subject_kind"
            )
        object.__setattr__(
            self, "ref", clean_ref(self.ref, field_name="subject_ref", required=True)
        )
        object.__setattr__(
            self, "account_ref", clean_ref(self.account_ref, field_name="account_ref")
        )

    @property
    def key(self) -> str:
        """``<kind>:<ref>``: the one-active-case-per-subject key."""
        return f"{self.kind}:{self.ref}"


@dataclass
class SignalIn:
    """One signal about a subject.

    ``summary`` holds ids, labels, scores and counts only — never content, text or hashes.
    ``hashes`` are ``(signal_type, value)`` pairs of the media (kept on the case for
    hash-on-confirm, never written to events). ``ref`` names the signal's own record
    (``"user_report:7"``, ``"scan:<id>"``): attaching the same ref to the same case twice
    adds nothing.
    """

    source: CaseSource
    principles: Sequence[int]
    summary: dict[str, Any]
    labels: Sequence[str] = ()
    score: float | None = None
    child_in_danger: bool = False
    media_id: int | None = None
    hashes: Sequence[tuple[str, str]] = field(default_factory=tuple)
    ref: str | None = None


# ---- API / CLI shapes ------------------------------------------------------------------------


class SignalOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    source: CaseSource
    ref: str | None
    principles: list[int]
    summary: dict[str, Any]
    labels: list[str]
    score: float | None
    child_in_danger: bool
    media_id: int | None
    hash_types: list[str] = Field(
        default_factory=list, description="Signal types of the hashes kept (values not shown)."
    )
    actor: str
    received_at: datetime


class DecisionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    outcome: Outcome
    label: str | None
    state: DecisionState
    note: str | None = Field(None, description="The reviewer's note (stored encrypted).")
    confirm_note: str | None = Field(None, description="The second reviewer's note, if any.")
    decided_by: str
    decided_at: datetime
    confirmed_by: str | None
    confirmed_at: datetime | None
    bank: str | None = None
    bank_entry_ids: list[int] = Field(default_factory=list)


class SlaOut(BaseModel):
    """Service-level clocks (seconds are ``None`` until the step happened)."""

    detected_at: datetime
    first_reviewed_at: datetime | None
    decided_at: datetime | None
    due_at: datetime | None
    overdue: bool
    seconds_to_first_review: float | None
    seconds_to_decision: float | None


class CaseSummary(BaseModel):
    """A case as the queue lists it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    subject_kind: str
    subject_ref: str
    account_ref: str | None
    status: CaseStatus
    sources: list[CaseSource]
    principles: list[int]
    labels: list[str]
    priority: int
    priority_rule: str
    child_in_danger: bool
    top_score: float | None
    signal_count: int
    assignee: str | None = None
    assignee_id: int | None
    detected_at: datetime
    due_at: datetime | None
    outcome: Outcome | None
    label: str | None
    decided_by: str | None = Field(None, description="Who made the final decision (user:<id>).")
    decided_at: datetime | None = None
    awaiting_confirmation: bool = False
    appeal_of_case_id: int | None


class TimelineItem(BaseModel):
    event_id: int
    occurred_at: datetime
    kind: str
    actor: str
    payload: dict[str, Any]


class CaseOut(CaseSummary):
    """One case with everything a reviewer needs (no media bytes: ask the media endpoint)."""

    media_id: int | None
    signals: list[SignalOut]
    decisions: list[DecisionOut]
    sla: SlaOut
    timeline: list[TimelineItem]
    actions: list[dict[str, Any]] = Field(default_factory=list)
    appeals: list[int] = Field(
        default_factory=list, description="Ids of appeal cases opened against this case."
    )


class CasePage(BaseModel):
    items: list[CaseSummary]
    total: int


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: Outcome
    label: str | None = Field(
        None,
        max_length=40,
        description="Required for violating: A1, A2, B1, B2 or a non-image category "
        "(see core.taxonomy).",
    )
    note: str = Field("", description=f"At most {MAX_NOTE} characters; stored encrypted.")


class ConfirmIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agree: bool = Field(True, description="false: disagree; the case goes to escalation.")
    note: str = Field("", description=f"At most {MAX_NOTE} characters; stored encrypted.")


class AssignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str | None = Field(
        None, max_length=64, description="Who takes the case; empty: the caller; null+unassign."
    )
    unassign: bool = False


class CloseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str = Field("", description=f"At most {MAX_NOTE} characters; stored encrypted.")


class AppealIn(BaseModel):
    """A platform's appeal against an action or a decided case."""

    model_config = ConfigDict(extra="forbid")

    action_id: int | None = Field(None, ge=1, description="The action appealed (from a webhook).")
    action_key: str | None = Field(
        None, max_length=200, description="Or the action's idempotency key (the webhook's id)."
    )
    case_id: int | None = Field(None, ge=1, description="Or the case whose decision is appealed.")
    appeal_ref: str | None = Field(
        None, max_length=MAX_REF, description="The platform's own id for this appeal."
    )
    reason: str = Field(
        "", max_length=40, description="A short reason code from the platform (no free text)."
    )


class AppealOut(BaseModel):
    case_id: int
    appeal_of_case_id: int
    status: CaseStatus
    created: bool


class ReviewPreferences(BaseModel):
    """How media is shown to a reviewer (wellness protections)."""

    blur: bool = True
    grayscale: bool = True
    video_muted: bool = True


class ReviewPreferencesIn(BaseModel):
    """Fields to change; ``null`` means "use the organisation's default"."""

    model_config = ConfigDict(extra="forbid")

    blur: bool | None = None
    grayscale: bool | None = None
    video_muted: bool | None = None


class ResolvedPreferences(ReviewPreferences):
    """Effective preferences and where each came from (``user``, ``organisation`` or
    ``built-in``)."""

    sources: dict[str, str] = Field(default_factory=dict)
