"""Term lists: create, change, delete, add and remove entries (principles 3, 4 and 6).

Every change bumps the list's ``version`` so each server process notices that its compiled
matcher (:mod:`shieldwall.textsignals.matching`) is stale, and writes one event (ids and
counts only: never the terms).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shieldwall.audit import service as audit
from shieldwall.core.access import Principal
from shieldwall.core.errors import Conflict, InvalidInput, NotFound
from shieldwall.db.base import utcnow
from shieldwall.textsignals import repository
from shieldwall.textsignals.models import TermEntry, TermList
from shieldwall.textsignals.schemas import (
    EntriesAdded,
    TermEntryIn,
    TermListCreate,
    TermListOut,
    TermListUpdate,
)

PRINCIPLES = (3, 4, 6)


def get_list(session: Session, name: str, *, lock: bool = False) -> TermList:
    found = repository.get_list(session, name, lock=lock)
    if found is None:
        raise NotFound(f"no term list named {name[:100]!r}", list=name[:100])
    return found


def describe(session: Session, lists: Sequence[TermList]) -> list[TermListOut]:
    counts = repository.entry_counts(session, [t.id for t in lists])
    out = []
    for t in lists:
        item = TermListOut.model_validate(t)
        item.entries = counts.get(t.id, 0)
        out.append(item)
    return out


def create_list(session: Session, body: TermListCreate, *, actor: Principal | str) -> TermList:
    if repository.get_list(session, body.name) is not None:
        raise Conflict(f"a term list named {body.name!r} exists", list=body.name)
    term_list = TermList(name=body.name, description=body.description, enabled=body.enabled)
    try:
        with session.begin_nested():
            session.add(term_list)
            session.flush()
    except IntegrityError:
        raise Conflict(
            f"a term list named {body.name!r} exists (or was deleted: choose another name)",
            list=body.name,
        ) from None
    audit.record(
        session,
        "terms.list_created",
        actor=actor,
        subject=f"term_list:{term_list.id}",
        principles=PRINCIPLES,
    )
    return term_list


def update_list(
    session: Session, name: str, body: TermListUpdate, *, actor: Principal | str
) -> TermList:
    term_list = get_list(session, name, lock=True)
    changed = []
    if body.description is not None:
        term_list.description = body.description
        changed.append("description")
    if body.enabled is not None and body.enabled != term_list.enabled:
        term_list.enabled = body.enabled
        changed.append("enabled")
    if changed:
        term_list.version += 1
        session.flush()
        audit.record(
            session,
            "terms.list_updated",
            actor=actor,
            subject=f"term_list:{term_list.id}",
            principles=PRINCIPLES,
            payload={"changed": changed, "enabled": term_list.enabled},
        )
    return term_list


def delete_list(session: Session, name: str, *, actor: Principal | str) -> int:
    """Delete a list and its entries (the name stays taken: deleted lists keep their row)."""
    term_list = get_list(session, name, lock=True)
    removed = repository.delete_entries_of(session, term_list.id)
    term_list.deleted_at = utcnow()
    term_list.enabled = False
    term_list.version += 1
    session.flush()
    audit.record(
        session,
        "terms.list_deleted",
        actor=actor,
        subject=f"term_list:{term_list.id}",
        principles=PRINCIPLES,
        payload={"entries_removed": removed},
    )
    return removed


def store_entries(
    session: Session,
    term_list: TermList,
    items: Sequence[TermEntryIn],
    *,
    actor: Principal | str,
    source: str,
) -> tuple[list[int], int]:
    """Insert the new ones (flush); returns (ids in order, with existing ones' ids, duplicates)."""
    actor_ref = actor.actor if isinstance(actor, Principal) else actor
    keys = [item.value_key for item in items]
    existing = repository.existing_keys(session, term_list.id, keys)
    ids: list[int] = []
    new: dict[str, TermEntry] = {}
    duplicates = 0
    order: list[str] = []
    for item, key in zip(items, keys, strict=True):
        order.append(key)
        if key in existing or key in new:
            duplicates += 1
            continue
        new[key] = TermEntry(
            list_id=term_list.id,
            kind=item.kind.value,
            value=item.value,
            value_key=key,
            word_count=item.word_count,
            category=item.category.value,
            severity=item.severity.value,
            language=item.language,
            source=source,
            source_record_id=item.source_record_id,
            added_by=actor_ref,
        )
    if new:
        session.add_all(new.values())
        session.flush()
        term_list.version += 1
    for key in order:
        ids.append(existing[key] if key in existing else new[key].id)
    return ids, duplicates


def add_entries(
    session: Session, name: str, items: Sequence[TermEntryIn], *, actor: Principal | str
) -> EntriesAdded:
    term_list = get_list(session, name, lock=True)
    ids, duplicates = store_entries(session, term_list, items, actor=actor, source="manual")
    added = len(items) - duplicates
    if added:
        audit.record(
            session,
            "terms.entries_added",
            actor=actor,
            subject=f"term_list:{term_list.id}",
            principles=PRINCIPLES,
            payload={"added": added, "duplicates": duplicates},
        )
    return EntriesAdded(added=added, duplicates=duplicates, ids=ids)


def remove_entry(session: Session, name: str, entry_id: int, *, actor: Principal | str) -> None:
    term_list = get_list(session, name, lock=True)
    entry = repository.get_entry(session, term_list.id, entry_id)
    if entry is None:
        raise NotFound(f"no entry {entry_id} in term list {name!r}", entry_id=entry_id)
    session.delete(entry)
    term_list.version += 1
    session.flush()
    audit.record(
        session,
        "terms.entry_removed",
        actor=actor,
        subject=f"term_list:{term_list.id}",
        principles=PRINCIPLES,
        payload={"entry_id": entry_id},
    )


def check_entries_count(count: int, limit: int) -> None:
    if count > limit:
        raise InvalidInput(f"at most {limit} entries per call; split the list", count=count)
