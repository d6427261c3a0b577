"""What goes in and out of the text-signals capability (API, CLI, web): pydantic models only."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from shieldwall.core.text import normalise, sanitise
from shieldwall.core.text_match import EntryKind, Severity, check_pattern
from shieldwall.core.text_urls import normalise_domain, normalise_url
from shieldwall.core.timestamps import Timestamp

LIST_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_.-]{0,99}$"
MAX_ENTRIES_PER_CALL = 1000
MAX_TERM_LENGTH = 1000
MAX_HASHED_WORDS = 8
#: Longest text one check or one message may carry (characters).
MAX_TEXT_CHARS = 20_000
MAX_QUERY_CHARS = 1000
MAX_SUGGESTIONS = 100
MAX_MESSAGES_PER_CALL = 500
#: A platform's reference (conversation, message, account...): no control characters, which
#: PostgreSQL text cannot hold (NUL) and logs should not.
REF = Annotated[
    str,
    StringConstraints(
        min_length=1, max_length=200, strip_whitespace=True, pattern=r"^[^\x00-\x1f\x7f]+$"
    ),
]
NO_NUL = r"^[^\x00]*$"
LANGUAGE = Annotated[str, StringConstraints(pattern=r"^([a-z]{2,3}(-[A-Za-z0-9]{2,8})*)?$")]
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


class Category(StrEnum):
    """What an entry points at. The categories decide which checks use it: search checks
    use ``csam_seeking``; posts and profiles ``solicitation``/``advertising``; URL checks
    ``csam_url``; conversations ``grooming_indicator`` (and every category as a signal)."""

    CSAM_SEEKING = "csam_seeking"
    SOLICITATION = "solicitation"
    ADVERTISING = "advertising"
    GROOMING_INDICATOR = "grooming_indicator"
    SEXTORTION = "sextortion"
    CSAM_URL = "csam_url"


class FileFormat(StrEnum):
    """``csv``: header ``kind,value,category,severity,language,word_count,source_record_id``
    (only ``kind``, ``value`` and ``category`` required). ``jsonl``: one object with those
    keys per line."""

    CSV = "csv"
    JSONL = "jsonl"


class TermListCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Annotated[str, StringConstraints(pattern=LIST_NAME_PATTERN)]
    description: Annotated[str, StringConstraints(max_length=2000, pattern=NO_NUL)] = ""
    enabled: bool = True


class TermListUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    description: Annotated[str, StringConstraints(max_length=2000, pattern=NO_NUL)] | None = None
    enabled: bool | None = None


class TermListOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    description: str
    enabled: bool
    version: int
    created_at: datetime
    updated_at: datetime
    entries: int = 0


class TermEntryIn(BaseModel):
    """One entry as given. After validation ``value`` is canonical: a URL's key, a domain in
    IDNA lower case, a hash in lower-case hex; terms and phrases are kept as written."""

    model_config = ConfigDict(extra="forbid")
    kind: EntryKind
    value: Annotated[str, StringConstraints(min_length=1, max_length=MAX_TERM_LENGTH)]
    category: Category
    severity: Severity = Severity.MEDIUM
    language: LANGUAGE = ""
    word_count: int = Field(1, ge=1, le=MAX_HASHED_WORDS)
    source_record_id: (
        Annotated[str, StringConstraints(max_length=200, pattern=r"^[^\x00-\x1f\x7f]*$")] | None
    ) = None

    @model_validator(mode="after")
    def _canonical(self) -> TermEntryIn:
        value = sanitise(self.value).strip()
        if any((c < " " and c != "\t") or c == "\x7f" for c in value):
            raise ValueError("a value cannot contain control characters")
        kind = self.kind
        if kind in (EntryKind.TERM, EntryKind.PHRASE):
            norm = normalise(value)
            if not norm:
                raise ValueError("the term is empty once normalised (only symbols or spaces)")
            if kind is EntryKind.TERM and " " in norm:
                raise ValueError("a term is one word; use kind 'phrase' for several words")
            self.word_count = norm.count(" ") + 1
        elif kind is EntryKind.HASHED:
            value = value.lower()
            if not _HEX64.fullmatch(value):
                raise ValueError("a hashed term is 64 hex digits: SHA-256 of the normalised term")
        elif kind is EntryKind.REGEX:
            check_pattern(value)
        elif kind is EntryKind.URL:
            value = normalise_url(value)
        elif kind is EntryKind.DOMAIN:
            value = normalise_domain(value)
        self.value = value
        return self

    @property
    def value_key(self) -> str:
        canonical = (
            normalise(self.value) if self.kind in (EntryKind.TERM, EntryKind.PHRASE) else self.value
        )
        return hashlib.sha256(f"{self.kind.value}\0{canonical}".encode()).hexdigest()


class TermEntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    kind: EntryKind
    value: str
    category: Category
    severity: Severity
    language: str
    word_count: int
    source: str
    source_record_id: str | None
    added_at: datetime
    added_by: str


class EntryPage(BaseModel):
    items: list[TermEntryOut]
    next_after_id: int | None


class EntriesAdded(BaseModel):
    added: int
    duplicates: int
    ids: list[int]


class Rejection(BaseModel):
    line: int
    reason: str


class ImportReport(BaseModel):
    term_list: str
    format: FileFormat
    lines: int = 0
    added: int = 0
    duplicates: int = 0
    rejected: int = 0
    rejections: list[Rejection] = Field(default_factory=list)


# ---- checks --------------------------------------------------------------------------------


class Decision(StrEnum):
    ALLOW = "allow"
    WARN = "warn"
    BLOCK = "block"


class MatchOut(BaseModel):
    """One matched entry. ``start``/``end`` index the text that was sent (end exclusive);
    the entry's value is not repeated (hashed lists stay hashed)."""

    entry_id: int
    list: str
    kind: EntryKind
    category: Category | str
    severity: Severity
    start: int
    end: int


class HelpResource(BaseModel):
    name: str
    description: str
    url: str | None = None
    phone: str | None = None


class DeterrenceMessage(BaseModel):
    locale: str
    title: str
    body: str
    resources: list[HelpResource]


class SearchCheckIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    query: Annotated[str, StringConstraints(max_length=MAX_QUERY_CHARS)]
    locale: Annotated[str, StringConstraints(max_length=35)] = "en"
    account_ref: REF | None = None


class SearchCheckOut(BaseModel):
    decision: Decision
    message: DeterrenceMessage | None = Field(
        None, description="Show this (warn: above results; block: instead of results)."
    )
    matches: list[MatchOut]


class SuggestionsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    query: Annotated[str, StringConstraints(max_length=MAX_QUERY_CHARS)] = ""
    suggestions: list[Annotated[str, StringConstraints(max_length=MAX_QUERY_CHARS)]] = Field(
        max_length=MAX_SUGGESTIONS
    )
    locale: Annotated[str, StringConstraints(max_length=35)] = "en"


class SuggestionsOut(BaseModel):
    suggestions: list[str]
    removed: list[int] = Field(description="Indexes (in the list sent) of removed suggestions.")


class UrlCheckIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: Annotated[str, StringConstraints(max_length=4096)] | None = None
    text: Annotated[str, StringConstraints(max_length=MAX_TEXT_CHARS)] | None = None
    content_ref: REF | None = None
    account_ref: REF | None = None

    @model_validator(mode="after")
    def _one(self) -> UrlCheckIn:
        if (self.url is None) == (self.text is None):
            raise ValueError("send either url or text")
        return self


class UrlMatchOut(BaseModel):
    url: str
    key: str
    matches: list[MatchOut]


class UrlCheckOut(BaseModel):
    decision: Decision
    urls: list[UrlMatchOut]
    case_id: int | None = None


class TextKind(StrEnum):
    POST = "post"
    PROFILE = "profile"
    MESSAGE = "message"
    OTHER = "other"


class TextCheckIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: Annotated[str, StringConstraints(max_length=MAX_TEXT_CHARS)]
    kind: TextKind = TextKind.POST
    content_ref: REF | None = None
    account_ref: REF | None = None


class TextCheckOut(BaseModel):
    decision: Decision
    matches: list[MatchOut]
    case_id: int | None = None


# ---- contact checks ------------------------------------------------------------------------


class AgeBand(StrEnum):
    UNDER_13 = "under_13"
    AGE_13_15 = "13_15"
    AGE_16_17 = "16_17"
    ADULT = "18_plus"
    UNKNOWN = "unknown"


class AgeInfo(BaseModel):
    """What the platform knows: a declared age, an estimated band, both, or neither."""

    model_config = ConfigDict(extra="forbid")
    declared_age: int | None = Field(None, ge=0, le=150)
    estimated_band: AgeBand = AgeBand.UNKNOWN


class Relationship(StrEnum):
    CONNECTED = "connected"
    MUTUAL_FOLLOWS = "mutual_follows"
    NONE = "none"


class ContactAction(StrEnum):
    MESSAGE = "message"
    FOLLOW = "follow"
    FRIEND_REQUEST = "friend_request"
    VIEW_PROFILE = "view_profile"


class ContactDecision(StrEnum):
    ALLOW = "allow"
    WARN = "warn"
    REQUIRE_CONSENT = "require_consent"
    BLOCK = "block"


class ContactCheckIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    initiator: AgeInfo
    target: AgeInfo
    relationship: Relationship
    action: ContactAction = ContactAction.MESSAGE
    initiator_ref: REF | None = None
    target_ref: REF | None = None


class ContactCheckOut(BaseModel):
    decision: ContactDecision
    rule: str = Field(description="The policy rule that decided.")
    reason: str
    initiator_class: str
    target_class: str


# ---- conversations -------------------------------------------------------------------------


class MessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    conversation_id: REF
    message_id: REF
    sender: REF
    recipients: list[REF] = Field(min_length=1, max_length=50)
    sent_at: Timestamp
    text: Annotated[str, StringConstraints(max_length=MAX_TEXT_CHARS)]
    sender_age: AgeInfo | None = None
    recipient_ages: dict[REF, AgeInfo] = Field(default_factory=dict, max_length=50)


class MessagesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    messages: list[MessageIn] = Field(min_length=1, max_length=MAX_MESSAGES_PER_CALL)


class IndicatorOut(BaseModel):
    indicator: str
    weight: float
    message_id: str | None = None
    start: int | None = None
    end: int | None = None


class ConversationOut(BaseModel):
    conversation_id: str
    score: float
    threshold: float
    over_threshold: bool
    indicators: list[IndicatorOut]
    rules_version: str
    case_id: int | None = None
    messages_in_window: int
    blocked_messages: list[str] = Field(
        default_factory=list,
        description="Ids of messages in this batch linking to listed URLs or domains: block them.",
    )


class MessagesOut(BaseModel):
    accepted: int
    duplicates: int
    conversations: list[ConversationOut]


def entry_fields(raw: dict[str, Any]) -> dict[str, Any]:
    """A file row's fields, blanks dropped so defaults apply."""
    return {k: v for k, v in raw.items() if v not in (None, "")}


class WindowMessageOut(BaseModel):
    """A message of a conversation's window, without its text."""

    message_id: str
    sender: str
    recipients: list[str]
    sent_at: datetime
    indicators: list[dict[str, Any]]
    preserved: bool


class ConversationStateOut(BaseModel):
    conversation_id: str
    score: float
    indicators: list[str]
    rules_version: str
    case_id: int | None
    participants: dict[str, str] = Field(description="Participant -> age class.")
    messages: list[WindowMessageOut]
