"""Rules for banks and their entries. Flushes, never commits.

Every transaction that changes a bank or its entries stamps the changed rows with
:func:`~shieldwall.banks.changes.change_seq`, taken *before* anything is read for the change,
so bank writers are serialised and every server's index sees each change exactly once. Every
change writes one event with subject ``bank:<id>`` for principle 1; events carry ids and
counts, never hash values.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shieldwall.audit import service as audit
from shieldwall.banks import repository
from shieldwall.banks.changes import change_seq
from shieldwall.banks.models import Bank, BankEntry
from shieldwall.banks.schemas import (
    AddOutcome,
    BankCreate,
    BankKind,
    BankOut,
    BankUpdate,
    EntriesAdded,
    EntryIn,
    EntryResult,
    EntrySource,
    EntryUpdate,
    SignalCounts,
)
from shieldwall.core.access import Principal
from shieldwall.core.errors import Conflict, InvalidInput, NotFound
from shieldwall.core.signals import SignalType, normalise
from shieldwall.db.base import as_utc, utcnow

PRINCIPLES = (1,)
#: Longest canonical value stored as its own lookup key; longer ones are keyed by SHA-256.
MAX_PLAIN_KEY = 64
#: Signal types that may carry a quality score.
QUALITY_TYPES = frozenset({SignalType.PDQ})


def _subject(bank: Bank) -> str:
    return f"bank:{bank.id}"


def _record(
    session: Session, kind: str, bank: Bank, actor: Principal | str, payload: dict[str, Any]
) -> None:
    audit.record(
        session, kind, actor=actor, subject=_subject(bank), principles=PRINCIPLES, payload=payload
    )


def actor_ref(actor: Principal | str) -> str:
    return actor.actor if isinstance(actor, Principal) else actor


# ---- values --------------------------------------------------------------------------------


def signal_type_of(name: str) -> SignalType:
    """The signal type called ``name``; :class:`InvalidInput` lists the known ones."""
    try:
        return SignalType(name.strip().lower())
    except ValueError:
        known = ", ".join(t.value for t in SignalType)
        raise InvalidInput(
            f"unknown signal type {name[:40]!r}; known: {known}", field="signal_type"
        ) from None


def value_key(signal_type: SignalType, canonical: str) -> str:
    """The indexed lookup key of a canonical value: the value itself, or the SHA-256 hex of
    it for vPDQ and for anything longer than 64 characters."""
    if signal_type is SignalType.VPDQ or len(canonical) > MAX_PLAIN_KEY:
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    return canonical


@dataclass(slots=True)  # not frozen: a frozen __init__ costs three times as much
class NewEntry:
    """An entry that passed every check and is ready to store (made once per record of a
    fetch; treat it as immutable)."""

    signal_type: str
    value: str
    value_key: str
    quality: int | None
    labels: list[str]
    source_record_id: str | None
    disabled_until: datetime | None
    source: str = EntrySource.MANUAL.value

    @property
    def key(self) -> tuple[str, str]:
        return self.signal_type, self.value_key


def clean_record_id(value: str | None) -> str | None:
    """A source record id without surrounding spaces (None when empty); control characters
    (line breaks...) are refused, so every export format keeps one entry per line."""
    text = (value or "").strip()
    if any(unicodedata.category(c) == "Cc" for c in text):
        raise InvalidInput(
            "source_record_id must not contain control characters (line breaks, tabs...)",
            field="source_record_id",
        )
    if len(text) > 200:
        raise InvalidInput(
            f"source_record_id is longer than 200 characters ({len(text)})",
            field="source_record_id",
        )
    return text or None


class LabelSet(Protocol):
    """What :func:`check_labels` reads of a bank (a :class:`Bank`, or a snapshot of one)."""

    @property
    def name(self) -> str: ...

    @property
    def labels(self) -> Sequence[str] | None: ...


def check_labels(bank: LabelSet, labels: Sequence[str]) -> None:
    """Labels must be within the bank's label set, when the bank has one."""
    if not bank.labels:
        return
    unknown = sorted(set(labels) - set(bank.labels))
    if unknown:
        raise InvalidInput(
            f"label(s) {', '.join(unknown)} are not in bank {bank.name}'s label set "
            f"({', '.join(bank.labels)})",
            field="labels",
        )


def validate_entry(
    bank: Bank,
    signal_type: str,
    value: str,
    *,
    quality: int | None = None,
    labels: Sequence[str] = (),
    source_record_id: str | None = None,
    disabled_until: datetime | None = None,
    source: EntrySource = EntrySource.MANUAL,
) -> NewEntry:
    """Check and canonicalise one entry for ``bank``; :class:`InvalidInput` says what is
    wrong (never quoting the value)."""
    kind = signal_type_of(signal_type)
    canonical = normalise(kind, value)
    if quality is not None:
        if kind not in QUALITY_TYPES:
            raise InvalidInput(
                f"quality applies to pdq hashes only, not {kind.value}", field="quality"
            )
        if not 0 <= quality <= 100:
            raise InvalidInput(f"quality must be 0-100, got {quality}", field="quality")
    check_labels(bank, labels)
    record_id = clean_record_id(source_record_id)
    return NewEntry(
        signal_type=kind.value,
        value=canonical,
        value_key=value_key(kind, canonical),
        quality=quality,
        labels=sorted(set(labels)),
        source_record_id=record_id or None,
        disabled_until=as_utc(disabled_until),
        source=EntrySource(source).value,
    )


# ---- banks ---------------------------------------------------------------------------------


def get_bank(session: Session, name: str) -> Bank:
    # a name with NUL or control characters names no bank (and PostgreSQL refuses NUL)
    bank = repository.get_bank_by_name(session, name) if name.isprintable() else None
    if bank is None:
        raise NotFound(f"no bank named {name[:100]!r}; list them with GET /v1/banks", bank=name)
    return bank


def counts_for(session: Session, banks: Sequence[Bank]) -> dict[int, dict[str, SignalCounts]]:
    """Entries by bank, then by signal type: active, disabled, removed."""
    out: dict[int, dict[str, SignalCounts]] = {b.id: {} for b in banks}
    rows = repository.entry_counts(session, [b.id for b in banks], utcnow())
    for bank_id, signal_type, active, disabled, removed in rows:
        out[bank_id][signal_type] = SignalCounts(active=active, disabled=disabled, removed=removed)
    return out


def describe(session: Session, banks: Sequence[Bank]) -> list[BankOut]:
    """Banks as the API shows them, with their counts (one query for all)."""
    counts = counts_for(session, banks)
    return [
        BankOut.model_validate(bank).model_copy(update={"counts": counts[bank.id]})
        for bank in banks
    ]


def create_bank(session: Session, data: BankCreate, *, actor: Principal | str) -> Bank:
    if data.kind is BankKind.ALLOW and data.action is not None:
        raise InvalidInput(
            "action applies to block banks only; leave it out for an allow bank "
            "(a match in an allow bank always means 'known false positive')",
            field="action",
        )
    seq = change_seq(session)
    if repository.get_bank_by_name(session, data.name) is not None:
        raise Conflict(f"a bank named {data.name} already exists", field="name")
    action = "" if data.kind is BankKind.ALLOW else (data.action or "block")
    bank = Bank(
        name=data.name,
        description=data.description.strip(),
        kind=data.kind.value,
        action=str(action),
        enabled=data.enabled,
        labels=list(data.labels),
        pdq_threshold=data.pdq_threshold,
        vpdq_distance=data.vpdq_distance,
        vpdq_query_pct=data.vpdq_query_pct,
        vpdq_target_pct=data.vpdq_target_pct,
        dihedral=data.dihedral,
        letterbox=data.letterbox,
        change_seq=seq,
    )
    session.add(bank)
    session.flush()
    _record(
        session,
        "bank.created",
        bank,
        actor,
        {"name": bank.name, "kind": bank.kind, "action": bank.action, "labels": bank.labels},
    )
    return bank


def update_bank(session: Session, name: str, data: BankUpdate, *, actor: Principal | str) -> Bank:
    seq = change_seq(session)
    bank = get_bank(session, name)
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    if "action" in changes and bank.kind == BankKind.ALLOW:
        raise InvalidInput(
            f"{bank.name} is an allow bank; action applies to block banks only", field="action"
        )
    if changes.get("labels"):
        orphaned = sorted(repository.labels_in_use(session, bank.id) - set(changes["labels"]))
        if orphaned:
            raise Conflict(
                f"entries of {bank.name} carry label(s) {', '.join(orphaned)}, which the new "
                "label set leaves out; relabel or remove those entries first",
                field="labels",
            )
    if "description" in changes:
        changes["description"] = changes["description"].strip()
    changed: dict[str, Any] = {}
    for field, value in changes.items():
        stored = value.value if hasattr(value, "value") else value
        if getattr(bank, field) != stored:
            setattr(bank, field, stored)
            changed[field] = stored if field != "description" else True
    if changed:
        bank.change_seq = seq
        session.flush()
        _record(session, "bank.updated", bank, actor, changed)
    return bank


def delete_bank(session: Session, name: str, *, actor: Principal | str) -> tuple[Bank, int]:
    """Soft-delete a bank and soft-remove all its entries; returns the bank and how many
    entries were removed.

    The deleted bank's name is freed for a new bank: the row keeps a tombstone name
    ``<name>__deleted_<id>`` (lower case, so no live bank can ever be called that).
    """
    seq = change_seq(session)
    bank = get_bank(session, name)
    now = utcnow()
    removed = repository.remove_all_entries(session, bank.id, seq=seq, now=now)
    original = bank.name
    bank.deleted_at = now
    bank.name = f"{original[:80]}__deleted_{bank.id}"
    bank.change_seq = seq
    session.flush()
    _record(session, "bank.deleted", bank, actor, {"name": original, "entries_removed": removed})
    return bank, removed


# ---- entries -------------------------------------------------------------------------------


def store_entries(
    session: Session,
    bank: Bank,
    entries: Sequence[NewEntry],
    *,
    added_by: str,
    seq: int,
    now: datetime,
    want_ids: bool = True,
    existing: Mapping[tuple[str, str], tuple[int, bool]] | None = None,
) -> list[tuple[AddOutcome, int | None]]:
    """Store one batch: one query for what exists, one bulk insert, one bulk revive.

    Returns an (outcome, id) per entry, in order. A repeat within the batch is a duplicate
    of its first occurrence. Without ``want_ids`` new ids are not fetched (None).
    ``existing``: :func:`repository.find_existing` of (at least) these entries' keys,
    read earlier in this transaction, if the caller has it. The caller must have taken ``seq`` from
    :func:`change_seq` before calling.
    """
    keys = [entry.key for entry in entries]
    first: dict[tuple[str, str], int] = {}
    for i, key in enumerate(keys):
        first.setdefault(key, i)
    if existing is None:
        existing = repository.find_existing(session, bank.id, first.keys())

    bank_id = bank.id
    inserts: list[tuple[Any, ...]] = []
    insert_keys: list[tuple[str, str]] = []
    revives: list[dict[str, Any]] = []
    outcome_of: dict[tuple[str, str], tuple[AddOutcome, int | None]] = {}
    for key, i in first.items():
        entry = entries[i]
        found = existing.get(key)
        if found is None:
            inserts.append(_insert_row(bank_id, entry, added_by, now, seq))
            insert_keys.append(key)
        elif found[1]:
            revives.append(
                {
                    "entry_id": found[0],
                    "labels": entry.labels,
                    "quality": entry.quality,
                    "source": entry.source,
                    "source_record_id": entry.source_record_id,
                    "added_at": now,
                    "added_by": added_by,
                    "updated_at": now,
                    "disabled_until": entry.disabled_until,
                    "change_seq": seq,
                }
            )
            outcome_of[key] = (AddOutcome.REVIVED, found[0])
        else:
            outcome_of[key] = (AddOutcome.DUPLICATE, found[0])
    new_ids = repository.insert_entries(session, inserts, returning=want_ids)
    for n, key in enumerate(insert_keys):
        outcome_of[key] = (AddOutcome.ADDED, new_ids[n] if want_ids else None)
    repository.revive_entries(session, revives)

    results: list[tuple[AddOutcome, int | None]] = []
    for i, key in enumerate(keys):
        outcome, entry_id = outcome_of[key]
        if first[key] != i:
            outcome = AddOutcome.DUPLICATE
        results.append((outcome, entry_id))
    return results


def _insert_row(
    bank_id: int, entry: NewEntry, added_by: str, now: datetime, seq: int
) -> tuple[Any, ...]:
    """A new entry's values, in repository.INSERT_COLUMNS order."""
    return (
        bank_id,
        entry.signal_type,
        entry.value,
        entry.value_key,
        entry.quality,
        entry.labels,
        entry.source,
        entry.source_record_id,
        now,
        added_by,
        now,
        entry.disabled_until,
        None,
        seq,
    )


def add_new_entries(
    session: Session,
    bank: Bank,
    entries: Sequence[NewEntry],
    *,
    added_by: str,
    seq: int,
    now: datetime,
    look_first: bool = False,
) -> tuple[dict[tuple[str, str], int], dict[tuple[str, str], tuple[int, bool]]]:
    """Insert those of ``entries`` (each of its own key) whose value the bank does not hold,
    live or removed; the others are left as they are. Returns ``({key: new id}, existing)``
    where ``existing`` is :func:`repository.find_existing` of the keys not inserted, for the
    caller to revive or count as duplicates (e.g. with :func:`store_entries`).

    For a large first fetch into a bank, where nearly every value is new: SQLite inserts
    them all in one statement that skips the taken values, then looks up only those -- one
    index probe per value instead of two. PostgreSQL's bulk insert (COPY) cannot skip a
    conflict: it copies them all in a savepoint, and only if a value is taken (the COPY
    fails on it) rolls back and looks every key up first -- or looks them up at once with
    ``look_first``, for a caller that has met values the bank holds (a failed COPY wrote
    up to the first of them for nothing). The caller took ``seq`` from
    :func:`change_seq` (which holds the write lock)."""
    keys = [entry.key for entry in entries]
    rows = [_insert_row(bank.id, entry, added_by, now, seq) for entry in entries]
    if session.get_bind().dialect.name == "postgresql":
        if not look_first:
            try:
                with session.begin_nested():
                    ids = repository.insert_entries(session, rows, returning=True)
            except IntegrityError:
                pass  # some value is in the bank already (a copy stops at the first one)
            else:
                return dict(zip(keys, ids, strict=True)), {}
        existing = repository.find_existing(session, bank.id, keys)
        new = [n for n, key in enumerate(keys) if key not in existing]
        ids = repository.insert_entries(session, [rows[n] for n in new], returning=True)
        return {keys[n]: entry_id for n, entry_id in zip(new, ids, strict=True)}, existing
    got = repository.insert_entries_skipping(session, rows)
    fresh = {key: entry_id for key, entry_id in zip(keys, got, strict=True) if entry_id is not None}
    taken = [key for key, entry_id in zip(keys, got, strict=True) if entry_id is None]
    return fresh, repository.find_existing(session, bank.id, taken)


def add_entries(
    session: Session,
    name: str,
    items: Sequence[EntryIn],
    *,
    actor: Principal | str,
    name_index: bool = True,
) -> EntriesAdded:
    """Add entries to a bank: all or none. An invalid item fails the whole call with
    :class:`InvalidInput` naming its index (``entries[3]: ...``)."""
    seq = change_seq(session)
    bank = get_bank(session, name)
    checked: list[NewEntry] = []
    for i, item in enumerate(items):
        try:
            checked.append(
                validate_entry(
                    bank,
                    item.signal_type,
                    item.value,
                    quality=item.quality,
                    labels=item.labels,
                    source_record_id=item.source_record_id,
                    disabled_until=item.disabled_until,
                    source=item.source,
                )
            )
        except InvalidInput as exc:
            where = f"entries[{i}]: " if name_index else ""
            raise InvalidInput(f"{where}{exc.message}", index=i, **exc.context) from None
    stored = store_entries(session, bank, checked, added_by=actor_ref(actor), seq=seq, now=utcnow())
    items_out = [
        EntryResult(index=i, id=int(entry_id or 0), outcome=outcome)
        for i, (outcome, entry_id) in enumerate(stored)
    ]
    summary = EntriesAdded(
        added=sum(r.outcome is AddOutcome.ADDED for r in items_out),
        duplicates=sum(r.outcome is AddOutcome.DUPLICATE for r in items_out),
        revived=sum(r.outcome is AddOutcome.REVIVED for r in items_out),
        items=items_out,
    )
    if not (summary.added or summary.revived):
        return summary  # nothing changed, nothing to record
    _record(
        session,
        "bank.entries_added",
        bank,
        actor,
        {
            "added": summary.added,
            "duplicates": summary.duplicates,
            "revived": summary.revived,
            "sources": sorted({item.source.value for item in items}),
            "entry_ids": [r.id for r in items_out if r.outcome is not AddOutcome.DUPLICATE],
        },
    )
    return summary


def get_entry(session: Session, bank: Bank, entry_id: int) -> BankEntry:
    entry = repository.get_entry(session, bank.id, entry_id)
    if entry is None:
        raise NotFound(f"bank {bank.name} has no entry {entry_id}", entry_id=entry_id)
    return entry


def update_entry(
    session: Session, name: str, entry_id: int, data: EntryUpdate, *, actor: Principal | str
) -> BankEntry:
    """Change labels, disabled_until or source_record_id of a live entry."""
    seq = change_seq(session)
    bank = get_bank(session, name)
    entry = get_entry(session, bank, entry_id)
    if entry.removed_at is not None:
        raise Conflict(
            f"entry {entry_id} was removed from {bank.name}; add it again to revive it",
            entry_id=entry_id,
        )
    given = data.model_fields_set
    changed: list[str] = []
    if "labels" in given:
        if data.labels is None:
            raise InvalidInput("labels cannot be null; send [] for none", field="labels")
        check_labels(bank, data.labels)
        if entry.labels != data.labels:
            entry.labels = list(data.labels)
            changed.append("labels")
    if "disabled_until" in given:
        until = as_utc(data.disabled_until)
        if entry.disabled_until != until:
            entry.disabled_until = until
            changed.append("disabled_until")
    if "source_record_id" in given:
        record_id = clean_record_id(data.source_record_id)
        if entry.source_record_id != record_id:
            entry.source_record_id = record_id
            changed.append("source_record_id")
    if changed:
        entry.change_seq = seq
        entry.updated_at = utcnow()
        session.flush()
        _record(
            session, "bank.entry_updated", bank, actor, {"entry_id": entry.id, "changed": changed}
        )
    return entry


def remove_entry(
    session: Session, name: str, entry_id: int, *, actor: Principal | str
) -> BankEntry:
    """Soft-remove one entry; every server's index drops it at its next poll."""
    seq = change_seq(session)
    bank = get_bank(session, name)
    entry = get_entry(session, bank, entry_id)
    if entry.removed_at is not None:
        raise Conflict(f"entry {entry_id} of {bank.name} is already removed", entry_id=entry_id)
    now = utcnow()
    entry.removed_at = now
    entry.updated_at = now
    entry.change_seq = seq
    session.flush()
    _record(
        session,
        "bank.entry_removed",
        bank,
        actor,
        {"entry_id": entry.id, "signal_type": entry.signal_type},
    )
    return entry


def withdraw_entry_ids(
    session: Session,
    entry_ids: Sequence[int],
    *,
    source: EntrySource,
    seq: int,
    now: datetime,
) -> int:
    """Soft-remove the live entries with these ids that ``source`` brought in (entries
    added by hand or by reviewers stay); returns how many. For bulk callers (hash
    exchanges) that record their own event; the caller must have taken ``seq`` from
    :func:`change_seq`."""
    ids = sorted(set(entry_ids))
    return sum(
        repository.remove_entries(
            session, ids[start : start + 2000], source=source.value, seq=seq, now=now
        )
        for start in range(0, len(ids), 2000)
    )


def relabel_entries(
    session: Session,
    bank: Bank,
    labels: Mapping[tuple[str, str], list[str]],
    *,
    source: EntrySource,
    seq: int,
    now: datetime,
) -> None:
    """Set the labels of live entries (by ``(signal_type, value_key)``) that ``source``
    brought in. Labels must already be checked (:func:`check_labels`)."""
    existing = repository.find_existing(session, bank.id, labels.keys())
    rows = [
        (entry_id, sorted(set(labels[key])))
        for key, (entry_id, removed) in existing.items()
        if not removed
    ]
    repository.relabel_entries(session, rows, source=source.value, seq=seq, now=now)
