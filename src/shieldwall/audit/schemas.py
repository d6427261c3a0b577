from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class EventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    occurred_at: datetime
    actor: str
    kind: str
    subject: str
    principles: list[int]
    payload: dict[str, Any]
    prev_hash: str
    hash: str


class EventPage(BaseModel):
    items: list[EventOut]
    next_before_id: int | None


class ChainReportOut(BaseModel):
    ok: bool
    checked: int
    head_hash: str
    first_bad_id: int | None
    reason: str | None
