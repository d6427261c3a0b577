"""Live counts, each from a real query. Later capabilities add their own rows."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel
from sqlalchemy.orm import Session

from shieldwall.apikeys import repository as apikeys_repository
from shieldwall.audit import repository as audit_repository
from shieldwall.banks import repository as banks_repository
from shieldwall.db.base import utcnow
from shieldwall.users import repository as users_repository


class Count(BaseModel):
    key: str
    label: str
    value: int


#: Event kinds that only set the installation up (people, keys, logins).
SETUP_EVENT_PREFIXES = ("user.", "apikey.", "auth.")


class Overview(BaseModel):
    counts: list[Count]
    activity_events: int

    @property
    def is_empty(self) -> bool:
        """True when nothing has happened yet beyond setting up people and keys."""
        return self.activity_events == 0


def _bank_counts(session: Session) -> list[Count]:
    """Banks and their live entries by signal type; no rows until a bank exists."""
    banks = banks_repository.count_banks(session)
    if not banks:
        return []
    rows = [Count(key="banks", label="Hash banks", value=banks, principles=[1])]
    for signal_type, n in banks_repository.count_live_entries_by_type(session).items():
        rows.append(
            Count(
                key=f"bank_entries_{signal_type}",
                label=f"{signal_type} hashes in banks",
                value=n,
                principles=[1],
            )
        )
    return rows


def overview(session: Session) -> Overview:
    day_ago = utcnow() - timedelta(days=1)
    return Overview(
        activity_events=audit_repository.count_events(
            session, exclude_prefixes=SETUP_EVENT_PREFIXES
        ),
        counts=[
            Count(
                key="users_active",
                label="Active people",
                value=users_repository.count_users(session, active_only=True),
            ),
            Count(
                key="api_keys_active",
                label="Active API keys",
                value=apikeys_repository.count_active(session),
            ),
            Count(
                key="events_total",
                label="Events in the log",
                value=audit_repository.count_events(session),
            ),
            Count(
                key="events_24h",
                label="Events in the last 24 hours",
                value=audit_repository.count_events(session, since=day_ago),
            ),
            *_bank_counts(session),
        ],
    )
