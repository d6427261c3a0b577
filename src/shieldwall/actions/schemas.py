"""What goes in and out of the actions capability (API, CLI): pydantic models and enums."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

#: Longest idempotency key, subject reference and reason kept.
MAX_KEY = 200
MAX_REF = 200
MAX_REASON = 300
#: A label: e.g. A1, B2, or a taxonomy category such as ``grooming``.
LABEL_PATTERN = r"^[A-Za-z0-9_.:-]{1,40}$"
MAX_LABELS = 20


class ActionType(StrEnum):
    """What the platform is asked to do; also the webhook's ``type``."""

    CONTENT_BLOCK = "content.block"
    CONTENT_REMOVE = "content.remove"
    CONTENT_RESTORE = "content.restore"
    ACCOUNT_SUSPEND = "account.suspend"
    ACCOUNT_RESTORE = "account.restore"


class SubjectKind(StrEnum):
    """What an action is about: a piece of content, an account, or a conversation."""

    CONTENT = "content"
    ACCOUNT = "account"
    CONVERSATION = "conversation"


class DeliveryState(StrEnum):
    """How far the webhook for an action got. ``not_sent``: no webhook URL was configured
    when the action was requested, so it is recorded only."""

    NOT_SENT = "not_sent"
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    DEAD = "dead"


class DeliveryOut(BaseModel):
    state: DeliveryState
    attempts: int = 0
    last_attempt_at: datetime | None = None
    next_attempt_at: datetime | None = None
    delivered_at: datetime | None = None
    last_error: str | None = None


class ActionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    key: str
    type: ActionType
    subject_kind: str
    subject_ref: str
    case_id: int | None
    labels: list[str]
    reason: str
    requested_by: str
    requested_at: datetime
    delivery: DeliveryOut


class ActionPage(BaseModel):
    items: list[ActionOut]
    next_before_id: int | None
