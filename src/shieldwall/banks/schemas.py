"""What goes in and out of the banks capability (API, CLI, web): pydantic models only."""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StringConstraints,
    Tag,
    field_validator,
)

from shieldwall.core.timestamps import Timestamp

#: HMA's bank names: upper-case letters, digits and underscores, not starting with a digit.
BANK_NAME_PATTERN = r"^[A-Z_][A-Z0-9_]*$"
BANK_NAME_MAX = 100
_BANK_NAME = re.compile(BANK_NAME_PATTERN)
#: A label: e.g. the Technology Coalition's A1 A2 B1 B2, or ``ncmec:csam``.
LABEL_PATTERN = r"^[A-Za-z0-9_.:-]{1,40}$"
MAX_LABELS = 100
#: Most entries one ``POST /v1/banks/{name}/entries`` call may carry.
MAX_ENTRIES_PER_CALL = 1000
#: Longest value accepted for one entry (a long vPDQ video hash fits easily).
MAX_VALUE_LENGTH = 1_048_576

Label = Annotated[str, StringConstraints(pattern=LABEL_PATTERN)]


class BankKind(StrEnum):
    BLOCK = "block"
    """Verified material: a match asks the platform to act (see :class:`BankAction`)."""
    ALLOW = "allow"
    """Known false positives: a match here overrides matches in block banks."""


class BankAction(StrEnum):
    """What a match in a block bank asks the platform to do."""

    BLOCK = "block"
    REVIEW = "review"


class EntrySource(StrEnum):
    """Where an entry came from (provenance)."""

    MANUAL = "manual"
    FILE_IMPORT = "file_import"
    EXCHANGE = "exchange"
    REVIEWER = "reviewer"
    CASE = "case"
    """Hash-on-confirm: a reviewer's decision on a case (``source_record_id`` ``case:<id>``)."""
    SURVIVOR_REQUEST = "survivor_request"
    """An approved takedown request (``source_record_id`` ``takedown_request:<id>``)."""


class AddOutcome(StrEnum):
    ADDED = "added"
    DUPLICATE = "duplicate"
    """Already in the bank (or earlier in the same call or file); nothing changed."""
    REVIVED = "revived"
    """Was removed; it is active again."""


class FileFormat(StrEnum):
    """Import and export formats.

    ``csv``: header ``signal_type,value,labels,source_record_id,quality``, labels separated by
    spaces. ``jsonl``: one object with those keys per line. ``local_file``: python-threatexchange's
    ``<signal_type> <value>`` per line (blank lines and ``#`` comments ignored).
    """

    CSV = "csv"
    JSONL = "jsonl"
    LOCAL_FILE = "local_file"


def _labels(values: list[str]) -> list[str]:
    """Sorted, without repeats."""
    return sorted(set(values))


class BankCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(
        max_length=BANK_NAME_MAX,
        description="Upper-case letters, digits and _, as in HMA: e.g. NCMEC_CSAM.",
        json_schema_extra={"pattern": BANK_NAME_PATTERN},
    )
    description: str = Field("", max_length=2000)
    kind: BankKind = BankKind.BLOCK
    action: BankAction | None = Field(
        None,
        description="Block banks only: what a match asks for (default block). "
        "Must be left out for allow banks.",
    )
    enabled: bool = True
    labels: list[Label] = Field(
        default_factory=list,
        max_length=MAX_LABELS,
        description="Allowed entry labels (e.g. A1 A2 B1 B2). Empty: any well-formed label.",
    )
    pdq_threshold: int = Field(31, ge=0, le=64, description="Largest PDQ distance that matches.")
    vpdq_distance: int = Field(31, ge=0, le=64, description="Frame distance for vPDQ.")
    vpdq_query_pct: float = Field(80.0, ge=0, le=100, description="% of query frames matched.")
    vpdq_target_pct: float = Field(0.0, ge=0, le=100, description="% of bank video matched.")
    dihedral: bool = Field(False, description="Also match rotated and flipped images.")
    letterbox: bool = Field(False, description="Also match images with borders removed.")

    @field_validator("name")
    @classmethod
    def _hma_name(cls, value: str) -> str:
        if not _BANK_NAME.fullmatch(value):
            raise ValueError(
                "bank names use upper-case letters, digits and _ and do not start with a "
                "digit (as in HMA), e.g. NCMEC_CSAM"
            )
        return value

    @field_validator("labels")
    @classmethod
    def _sorted(cls, value: list[str]) -> list[str]:
        return _labels(value)


class BankUpdate(BaseModel):
    """Fields to change; omitted fields stay as they are. Name and kind are fixed."""

    model_config = ConfigDict(extra="forbid")

    description: str | None = Field(None, max_length=2000)
    action: BankAction | None = None
    enabled: bool | None = None
    labels: list[Label] | None = Field(None, max_length=MAX_LABELS)
    pdq_threshold: int | None = Field(None, ge=0, le=64)
    vpdq_distance: int | None = Field(None, ge=0, le=64)
    vpdq_query_pct: float | None = Field(None, ge=0, le=100)
    vpdq_target_pct: float | None = Field(None, ge=0, le=100)
    dihedral: bool | None = None
    letterbox: bool | None = None

    @field_validator("labels")
    @classmethod
    def _sorted(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _labels(value)


class SignalCounts(BaseModel):
    """Entries of one signal type in one bank."""

    active: int = 0
    disabled: int = Field(0, description="Not removed, but disabled_until is in the future.")
    removed: int = 0


class BankOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    description: str
    kind: BankKind
    action: BankAction | None
    enabled: bool
    labels: list[str]
    pdq_threshold: int
    vpdq_distance: int
    vpdq_query_pct: float
    vpdq_target_pct: float
    dihedral: bool
    letterbox: bool
    created_at: datetime
    updated_at: datetime
    change_seq: int
    counts: dict[str, SignalCounts] = Field(
        default_factory=dict, description="By signal type: active, disabled, removed."
    )

    @field_validator("action", mode="before")
    @classmethod
    def _no_action(cls, value: object) -> object:
        return value or None  # allow banks store ""


class BankDeleted(BaseModel):
    name: str
    entries_removed: int


class EntryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    signal_type: str = Field(max_length=20, description="md5, sha1, sha256, pdq, video_md5, vpdq")
    value: str = Field(min_length=1, max_length=MAX_VALUE_LENGTH)
    quality: int | None = Field(None, ge=0, le=100, description="PDQ quality; pdq only.")
    labels: list[Label] = Field(default_factory=list, max_length=MAX_LABELS)
    source: EntrySource = EntrySource.MANUAL
    source_record_id: str | None = Field(None, max_length=200)
    disabled_until: Timestamp | None = Field(
        None, description="The entry does not match before this time."
    )

    @field_validator("labels")
    @classmethod
    def _sorted(cls, value: list[str]) -> list[str]:
        return _labels(value)


def _one_or_many(value: object) -> str:
    return "entries" if isinstance(value, list) else "entry"


#: The body of ``POST /v1/banks/{name}/entries``: one entry, or a list of them. Errors name
#: ``entry.<field>`` or ``entries.<index>.<field>``.
EntriesBody = Annotated[
    Annotated[EntryIn, Tag("entry")]
    | Annotated[
        list[EntryIn], Field(min_length=1, max_length=MAX_ENTRIES_PER_CALL), Tag("entries")
    ],
    Discriminator(_one_or_many),
]


class EntryUpdate(BaseModel):
    """Fields to change; omitted fields stay; ``null`` clears disabled_until or
    source_record_id."""

    model_config = ConfigDict(extra="forbid")

    labels: list[Label] | None = Field(None, max_length=MAX_LABELS)
    disabled_until: Timestamp | None = None
    source_record_id: str | None = Field(None, max_length=200)

    @field_validator("labels")
    @classmethod
    def _sorted(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _labels(value)


class EntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    bank_id: int
    signal_type: str
    value: str
    quality: int | None
    labels: list[str]
    source: EntrySource
    source_record_id: str | None
    added_at: datetime
    added_by: str
    updated_at: datetime
    disabled_until: datetime | None
    removed_at: datetime | None
    change_seq: int


class EntryPage(BaseModel):
    items: list[EntryOut]
    next_after_id: int | None = Field(description="Pass as after_id for the next page.")


class EntryResult(BaseModel):
    index: int = Field(description="Position in the request (0 for a single entry).")
    id: int
    outcome: AddOutcome


class EntriesAdded(BaseModel):
    added: int
    duplicates: int
    revived: int
    items: list[EntryResult]


class Rejection(BaseModel):
    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


class ImportReport(BaseModel):
    bank: str
    format: FileFormat
    lines: int = Field(0, description="Lines read, blank and comment lines included.")
    bytes_read: int = 0
    added: int = 0
    duplicates: int = Field(0, description="Already in the bank, or repeated in the file.")
    revived: int = 0
    rejected: int = 0
    rejections: list[Rejection] = Field(
        default_factory=list, description="The first rejected lines and why."
    )
