"""SQL for term lists and conversations."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from shieldwall.textsignals.models import (
    Conversation,
    ConversationMessage,
    TermEntry,
    TermList,
)


def get_list(session: Session, name: str, *, lock: bool = False) -> TermList | None:
    stmt = select(TermList).where(TermList.name == name, TermList.deleted_at.is_(None))
    if lock:
        stmt = stmt.with_for_update()
    return session.scalars(stmt).one_or_none()


def list_lists(session: Session) -> Sequence[TermList]:
    return session.scalars(
        select(TermList).where(TermList.deleted_at.is_(None)).order_by(TermList.name)
    ).all()


def entry_counts(session: Session, list_ids: Iterable[int]) -> dict[int, int]:
    ids = list(list_ids)
    if not ids:
        return {}
    rows = session.execute(
        select(TermEntry.list_id, func.count())
        .where(TermEntry.list_id.in_(ids))
        .group_by(TermEntry.list_id)
    ).all()
    return {int(list_id): int(n) for list_id, n in rows}


def lists_version(session: Session) -> tuple[int, int]:
    """(number of lists, sum of their versions): changes whenever any list or entry does."""
    count, total = session.execute(
        select(func.count(), func.coalesce(func.sum(TermList.version), 0)).select_from(TermList)
    ).one()
    return int(count), int(total)


def active_entries(session: Session) -> Iterator[tuple[TermEntry, str]]:
    stmt = (
        select(TermEntry, TermList.name)
        .join(TermList, TermList.id == TermEntry.list_id)
        .where(TermList.enabled.is_(True), TermList.deleted_at.is_(None))
        .order_by(TermEntry.id)
        .execution_options(yield_per=5000)
    )
    for row in session.execute(stmt):
        yield row[0], row[1]


def existing_keys(session: Session, list_id: int, keys: Sequence[str]) -> dict[str, int]:
    if not keys:
        return {}
    rows = session.execute(
        select(TermEntry.value_key, TermEntry.id).where(
            TermEntry.list_id == list_id, TermEntry.value_key.in_(list(keys))
        )
    ).all()
    return {k: int(i) for k, i in rows}


def list_entries(
    session: Session, list_id: int, *, after_id: int, limit: int
) -> Sequence[TermEntry]:
    return session.scalars(
        select(TermEntry)
        .where(TermEntry.list_id == list_id, TermEntry.id > after_id)
        .order_by(TermEntry.id)
        .limit(limit)
    ).all()


def get_entry(session: Session, list_id: int, entry_id: int) -> TermEntry | None:
    return session.scalars(
        select(TermEntry).where(TermEntry.list_id == list_id, TermEntry.id == entry_id)
    ).one_or_none()


def delete_entries_of(session: Session, list_id: int) -> int:
    result = session.execute(delete(TermEntry).where(TermEntry.list_id == list_id))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


# ---- conversations -------------------------------------------------------------------------


def get_conversation(session: Session, ref: str, *, lock: bool = False) -> Conversation | None:
    stmt = select(Conversation).where(Conversation.ref == ref)
    if lock:
        stmt = stmt.with_for_update()
    return session.scalars(stmt).one_or_none()


def get_conversation_by_id(session: Session, conversation_id: int) -> Conversation | None:
    return session.get(Conversation, conversation_id)


def conversation_for_case(session: Session, case_id: int) -> Conversation | None:
    return session.scalars(select(Conversation).where(Conversation.case_id == case_id)).first()


def window(session: Session, conversation_id: int) -> Sequence[ConversationMessage]:
    return session.scalars(
        select(ConversationMessage)
        .where(ConversationMessage.conversation_id == conversation_id)
        .order_by(ConversationMessage.sent_at, ConversationMessage.id)
    ).all()


def message_exists(session: Session, conversation_id: int, message_ref: str) -> bool:
    return (
        session.scalars(
            select(ConversationMessage.id).where(
                ConversationMessage.conversation_id == conversation_id,
                ConversationMessage.message_ref == message_ref,
            )
        ).first()
        is not None
    )


def delete_messages(session: Session, ids: Sequence[int]) -> int:
    if not ids:
        return 0
    result = session.execute(
        delete(ConversationMessage).where(ConversationMessage.id.in_(list(ids)))
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def expired_message_ids(session: Session, before: datetime, limit: int = 10_000) -> list[int]:
    return [
        int(i)
        for i in session.scalars(
            select(ConversationMessage.id)
            .where(
                ConversationMessage.received_at < before,
                ConversationMessage.preserved.is_(False),
            )
            .limit(limit)
        )
    ]
