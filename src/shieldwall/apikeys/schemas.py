from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from shieldwall.core.access import Scope
from shieldwall.core.timestamps import Timestamp


class KeyKind(StrEnum):
    PERSONAL = "personal"
    """Acts for its owner; limited at every request to what the owner's role allows."""
    INTEGRATION = "integration"
    """Used by a platform's servers; may hold only integration scopes."""


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=120, description="What the key is for.")
    kind: KeyKind = KeyKind.INTEGRATION
    scopes: list[Scope] = Field(min_length=1)
    owner_id: int | None = Field(
        None,
        ge=1,
        le=2**31 - 1,
        description="Owner of a personal key (a user id); default: the caller.",
    )
    expires_at: Timestamp | None = None


class ApiKeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    prefix: str
    kind: KeyKind
    scopes: list[Scope]
    owner_id: int
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="The whole key. Shown once; store it now.")
