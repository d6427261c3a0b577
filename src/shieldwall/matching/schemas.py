from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, HttpUrl


class Verdict(StrEnum):
    ALLOW = "allow"
    REVIEW = "review"
    BLOCK = "block"


class SignalIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    signal_type: str = Field(max_length=20, examples=["pdq"])
    value: str = Field(
        max_length=2_000_000,
        examples=["f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"],
    )
    quality: int | None = Field(None, ge=0, le=100, description="PDQ quality, if known.")


class LookupRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    signals: list[SignalIn] = Field(min_length=1, max_length=100)
    banks: list[str] | None = Field(
        None, max_length=100, description="Only these banks (names); default: every enabled bank."
    )
    content_id: str | None = Field(
        None,
        max_length=200,
        description="The platform's id for the content: a review verdict opens or joins its "
        "case, and actions name it.",
    )
    account_id: str | None = Field(
        None, max_length=200, description="The platform's id for the account that posted it."
    )


class ScanJson(BaseModel):
    """A JSON scan request: a URL to fetch, or precomputed hashes."""

    model_config = ConfigDict(extra="forbid")

    url: HttpUrl | None = None
    hashes: list[SignalIn] | None = Field(None, min_length=1, max_length=100)
    media_type: str | None = Field(
        None, max_length=100, description="Declared type (image/png, photo, video...)."
    )
    banks: list[str] | None = Field(None, max_length=100)
    content_id: str | None = Field(
        None,
        max_length=200,
        description="The platform's id for the content: a review verdict opens or joins its "
        "case, and actions name it.",
    )
    account_id: str | None = Field(
        None, max_length=200, description="The platform's id for the account that posted it."
    )


class HashOut(BaseModel):
    signal_type: str
    value: str
    quality: int | None = None
    low_quality: bool = False
    variant: str = "original"


class MatchOut(BaseModel):
    bank: str
    bank_kind: str
    action: str
    entry_id: int
    signal_type: str
    distance: int
    labels: list[str]
    source: str
    source_record_id: str | None
    added_at: datetime
    query_variant: str = "original"
    query_match_pct: float | None = None
    target_match_pct: float | None = None


class LookupResult(BaseModel):
    verdict: Verdict
    matches: list[MatchOut]
    suppressed: list[MatchOut] = Field(
        default_factory=list,
        description="Block-bank matches overridden by a match in an allow bank.",
    )
    low_quality: bool = Field(
        False, description="A perceptual hash was below the quality floor and not matched."
    )


class ClassifierScoreOut(BaseModel):
    classifier: str
    label: str
    score: float
    threshold: float | None
    over_threshold: bool


class ScanResult(LookupResult):
    scan_id: str
    media_kind: str
    hashes: list[HashOut]
    classifier_scores: list[ClassifierScoreOut] = Field(
        default_factory=list,
        description="Scores from the configured classifiers (uploads and URLs, when asked).",
    )
    classifier_errors: dict[str, str] = Field(
        default_factory=dict, description="Classifiers that could not answer, in plain words."
    )
    case_id: int | None = Field(
        None, description="The review case this scan opened or joined (verdict review)."
    )
