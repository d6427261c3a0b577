from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from shieldwall.core.access import Role

USERNAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{1,63}$"


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(pattern=USERNAME_PATTERN, description="Lower-case login name.")
    password: str = Field(min_length=12, max_length=1024)
    role: Role
    display_name: str = Field("", max_length=200)


class UserUpdate(BaseModel):
    """Fields to change; omitted fields stay as they are."""

    model_config = ConfigDict(extra="forbid")

    role: Role | None = None
    display_name: str | None = Field(None, max_length=200)
    is_active: bool | None = None
    password: str | None = Field(None, min_length=12, max_length=1024)
    unlock: bool = Field(False, description="Clear a lock-out after failed logins.")


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    display_name: str
    role: Role
    is_active: bool
    locked_until: datetime | None
    last_login_at: datetime | None
    created_at: datetime
