"""What goes in and out of the exchanges capability (API, CLI, web): pydantic models only.

An exchange binds one external source of hashes to one bank. Each type has its own settings
(what to fetch, from where) and credentials (sealed at rest, never shown again); both are
checked here, per type, so a mistake is named before anything is stored.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, StringConstraints, field_validator

from shieldwall.banks.schemas import BANK_NAME_MAX, LABEL_PATTERN, MAX_LABELS
from shieldwall.core.signals import SignalType
from shieldwall.core.timestamps import Timestamp

EXCHANGE_NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"
_EXCHANGE_NAME = re.compile(EXCHANGE_NAME_PATTERN)
Label = Annotated[str, StringConstraints(pattern=LABEL_PATTERN)]
#: Longest source record id kept (the bank's source_record_id column holds 200).
MAX_RECORD_ID = 200


class ExchangeType(StrEnum):
    NCMEC = "ncmec"
    """NCMEC's hash-sharing API (XML; HTTP Basic credentials)."""
    STOP_NCII = "stop_ncii"
    """StopNCII.org's hash API (JSON pages; subscription and function keys)."""
    FB_THREATEXCHANGE = "fb_threatexchange"
    """Meta's ThreatExchange privacy groups (threat_updates; an access token)."""
    LOCAL_FILE = "local_file"
    """A file on the server in python-threatexchange's ``<signal_type> <value>`` format (or
    bare values of one ``signal_type``)."""
    URL = "url"
    """The same plain list, published at an address (http or https)."""
    SHIELDWALL = "shieldwall"
    """Another shieldwall deployment's shared bank (signed feed)."""


class RunStatus(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    """Caught up with the source."""
    PARTIAL = "partial"
    """Stopped early (time limit, or the source asked us to slow down); progress is kept and
    the next run resumes from the checkpoint."""
    FAILED = "failed"
    """Stopped by an error; progress up to the last committed batch is kept."""


class RunTrigger(StrEnum):
    SCHEDULE = "schedule"
    MANUAL = "manual"
    CLI = "cli"


# ---- per-type settings and credentials ---------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NcmecSettings(_Strict):
    environment: str = Field(
        "Industry",
        description="python-threatexchange NCMECEnvironment name: Industry, "
        "Industry_Exploitative, NGO, Exploitative, LawEnforcement, NGO_Generative_AI, ... "
        "and their test_ variants (test_Industry is NCMEC's test service).",
    )
    base_url: str | None = Field(
        None,
        max_length=500,
        description="Overrides the environment's address (a proxy, or a local fake in tests).",
    )
    member_ids: list[int] = Field(
        default_factory=list,
        max_length=1000,
        description="Take entries from these NCMEC member (ESP) ids only; empty: all members.",
    )
    start_time: Timestamp | None = Field(
        None, description="Fetch entries changed since this time (default: everything)."
    )
    negative_feedback_reason: str | None = Field(
        None,
        max_length=100,
        description="NCMEC's reason id (guid) sent with false-positive feedback; empty: "
        "NCMEC's only reason, when it offers one.",
    )
    page_window_seconds: int | None = Field(
        None,
        ge=1,
        description="Fetch the source's history in windows of this many seconds (default: "
        "adaptive windows, narrowed until each holds at most 100,000 entries).",
    )


class NcmecCredentials(_Strict):
    username: str = Field(min_length=1, max_length=200)
    password: SecretStr = Field(min_length=1, max_length=500)


class StopNciiSettings(_Strict):
    base_url: str | None = Field(
        None, max_length=500, description="Default https://api.stopncii.org/v1."
    )
    page_size: int = Field(800, ge=1, le=10_000)
    start_timestamp: int = Field(10, ge=0, description="Unix time to fetch from at first.")


class StopNciiCredentials(_Strict):
    subscription_key: SecretStr = Field(min_length=1, max_length=500)
    fetch_function_key: SecretStr = Field(min_length=1, max_length=500)
    feedback_function_key: SecretStr | None = Field(
        None, max_length=500, description="Needed only to send feedback."
    )


class ThreatExchangeSettings(_Strict):
    privacy_group: int = Field(ge=1, description="The privacy group (collaboration) id.")
    base_url: str | None = Field(None, max_length=500, description="Default graph.facebook.com.")


class ThreatExchangeCredentials(_Strict):
    access_token: SecretStr = Field(min_length=1, max_length=500)


_LIST_SIGNAL_TYPE = (
    "Read every line as a value of this signal type (for a list of bare hashes, one a line), "
    "as python-threatexchange's file collaborations do; unset: each line is "
    "'<signal_type> <value>'."
)


class _ListSettings(_Strict):
    signal_type: SignalType | None = Field(None, description=_LIST_SIGNAL_TYPE)

    @field_validator("signal_type", mode="before")
    @classmethod
    def _any_case(cls, value: Any) -> Any:
        # typed lines are read in any case ("PDQ <hash>"); so is the setting
        return value.strip().lower() if isinstance(value, str) else value


class LocalFileSettings(_ListSettings):
    path: str = Field(min_length=1, max_length=1000, description="A file on the server.")


class UrlSettings(_ListSettings):
    url: str = Field(min_length=1, max_length=2000, description="http(s) address of the list.")


class UrlCredentials(_Strict):
    bearer_token: SecretStr | None = Field(
        None, max_length=2000, description="Sent as Authorization: Bearer <token>."
    )


class ShieldwallSettings(_Strict):
    url: str = Field(
        min_length=1, max_length=500, description="The partner deployment's base address."
    )
    bank: str = Field(min_length=1, max_length=BANK_NAME_MAX, description="Their bank's name.")
    public_key: str = Field(
        min_length=40,
        max_length=100,
        description="Their feed signing key (shown on their exchanges page and at "
        "GET /v1/exchange/signing-key): every page must carry a valid signature by it.",
    )


class ShieldwallCredentials(_Strict):
    api_key: SecretStr = Field(
        min_length=1, max_length=500, description="A key they issued with exchange:read."
    )


class NoCredentials(_Strict):
    pass


SETTINGS_MODELS: dict[ExchangeType, type[BaseModel]] = {
    ExchangeType.NCMEC: NcmecSettings,
    ExchangeType.STOP_NCII: StopNciiSettings,
    ExchangeType.FB_THREATEXCHANGE: ThreatExchangeSettings,
    ExchangeType.LOCAL_FILE: LocalFileSettings,
    ExchangeType.URL: UrlSettings,
    ExchangeType.SHIELDWALL: ShieldwallSettings,
}
CREDENTIAL_MODELS: dict[ExchangeType, type[BaseModel]] = {
    ExchangeType.NCMEC: NcmecCredentials,
    ExchangeType.STOP_NCII: StopNciiCredentials,
    ExchangeType.FB_THREATEXCHANGE: ThreatExchangeCredentials,
    ExchangeType.LOCAL_FILE: NoCredentials,
    ExchangeType.URL: UrlCredentials,
    ExchangeType.SHIELDWALL: ShieldwallCredentials,
}
#: Types whose credentials must be given before a fetch can run.
NEEDS_CREDENTIALS = frozenset(
    {
        ExchangeType.NCMEC,
        ExchangeType.STOP_NCII,
        ExchangeType.FB_THREATEXCHANGE,
        ExchangeType.SHIELDWALL,
    }
)
#: Types that accept reviewers' feedback on matches.
FEEDBACK_TYPES = frozenset({ExchangeType.NCMEC, ExchangeType.STOP_NCII})


# ---- exchanges -----------------------------------------------------------------------------


def _labels(values: list[str]) -> list[str]:
    return sorted(set(values))


class ExchangeCreate(_Strict):
    name: str = Field(
        max_length=63,
        description="Lower-case letters, digits, _ and -: e.g. ncmec-industry.",
        json_schema_extra={"pattern": EXCHANGE_NAME_PATTERN},
    )
    type: ExchangeType
    bank: str = Field(max_length=BANK_NAME_MAX, description="The bank fetched records go into.")
    settings: dict[str, Any] = Field(
        default_factory=dict, description="Settings of the type (see docs/exchanges.md)."
    )
    credentials: dict[str, Any] | None = Field(
        None, description="Stored encrypted; never shown again."
    )
    enabled: bool = True
    schedule_minutes: int = Field(
        60, ge=0, le=60 * 24 * 31, description="Fetch every this many minutes; 0: by hand only."
    )
    time_limit_seconds: int = Field(
        600, ge=5, le=24 * 3600, description="A run stops after this long and resumes later."
    )
    labels: list[Label] = Field(
        default_factory=list,
        max_length=MAX_LABELS,
        description="Labels added to every entry this exchange brings in.",
    )
    feedback: bool = Field(
        False,
        description="Send reviewers' decisions on matches back to the source (ncmec, stop_ncii).",
    )

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _EXCHANGE_NAME.fullmatch(value):
            raise ValueError(
                "exchange names use lower-case letters, digits, _ and -, starting with a "
                "letter or digit, e.g. ncmec-industry"
            )
        return value

    @field_validator("labels")
    @classmethod
    def _sorted(cls, value: list[str]) -> list[str]:
        return _labels(value)


class ExchangeUpdate(_Strict):
    """Fields to change; omitted fields stay. ``credentials`` replaces all of them."""

    settings: dict[str, Any] | None = None
    credentials: dict[str, Any] | None = None
    enabled: bool | None = None
    schedule_minutes: int | None = Field(None, ge=0, le=60 * 24 * 31)
    time_limit_seconds: int | None = Field(None, ge=5, le=24 * 3600)
    labels: list[Label] | None = Field(None, max_length=MAX_LABELS)
    feedback: bool | None = None

    @field_validator("labels")
    @classmethod
    def _sorted(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _labels(value)


class RunOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    trigger: RunTrigger
    status: RunStatus
    started_at: datetime
    finished_at: datetime | None
    pages: int
    records: int = Field(description="Records received (additions, updates and deletions).")
    added: int = Field(description="Entries added to the bank (new or revived).")
    updated: int = Field(description="Entries whose labels changed.")
    removed: int = Field(description="Entries removed from the bank (deleted at the source).")
    quarantined: int = Field(description="Malformed records set aside.")
    skipped: int = Field(description="Records with no signal type shieldwall uses.")
    error: str | None = Field(description="What went wrong, in plain words.")


class QuarantineOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    record_id: str = Field(description="The source's record id (or the page, for a page).")
    reason: str
    first_seen: datetime
    last_seen: datetime
    times: int


class ExchangeOut(BaseModel):
    id: int
    name: str
    type: ExchangeType
    bank: str
    settings: dict[str, Any]
    credentials_set: bool = Field(description="Whether credentials are stored (never shown).")
    enabled: bool
    schedule_minutes: int
    time_limit_seconds: int
    labels: list[str]
    feedback: bool
    created_at: datetime
    updated_at: datetime
    next_run_at: datetime | None
    fetching: bool = Field(description="A fetch holds the lease right now.")
    records: int = Field(description="Source records currently held (not deleted).")
    quarantined: int = Field(description="Records in quarantine.")
    last_run: RunOut | None


class ExchangeStatus(BaseModel):
    exchange: ExchangeOut
    runs: list[RunOut]
    quarantine: list[QuarantineOut]


class ShareOut(BaseModel):
    bank: str
    shared_since: datetime
    feed_path: str
    signing_key: str = Field(description="Give partners this key to verify the feed.")


# ---- the partner feed ----------------------------------------------------------------------

FEED_VERSION = 1


class FeedItem(BaseModel):
    id: int = Field(description="The entry's id in the publishing deployment.")
    signal_type: str
    value: str = Field(description="Empty for a removed entry.")
    labels: list[str]
    removed: bool


class FeedPage(BaseModel):
    version: int = FEED_VERSION
    bank: str
    cursor: str = Field(description="The cursor this page starts after (as asked).")
    next_cursor: str = Field(description="Ask for this next; unchanged when nothing is new.")
    has_more: bool
    generated_at: datetime
    items: list[FeedItem]
