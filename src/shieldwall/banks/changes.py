"""The bank change sequence: how every server process learns what to add to or remove from
its in-memory index (see :class:`~shieldwall.banks.models.BankChangeHead`)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from shieldwall.banks.models import BankChangeHead

_SESSION_KEY = "shieldwall.bank_change_seq"


def change_seq(session: Session) -> int:
    """The sequence number for this transaction's bank changes (taken once, then reused).

    Locks the head row until the transaction ends (PostgreSQL ``FOR UPDATE``; SQLite
    transactions already hold the write lock from ``BEGIN IMMEDIATE``).
    """
    transaction = session.get_transaction()
    cached = session.info.get(_SESSION_KEY)
    if cached is not None and transaction is not None and cached[0] is transaction:
        return int(cached[1])
    head = session.execute(
        select(BankChangeHead)
        .where(BankChangeHead.id == 1)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one()
    head.seq += 1
    session.flush()
    session.info[_SESSION_KEY] = (session.get_transaction(), head.seq)
    return head.seq


def current_seq(session: Session) -> int:
    return int(session.scalar(select(BankChangeHead.seq).where(BankChangeHead.id == 1)) or 0)
