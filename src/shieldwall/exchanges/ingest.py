"""Applying fetched records to a bank, in bulk. Flushes, never commits.

For one batch of records (:class:`~shieldwall.integrations.exchanges.base.SourceRecord`):

1. each record is checked (record id, labels against the bank's label set, every signal
   normalised); a record with nothing usable is quarantined with the reason, a record with
   some bad signals keeps the good ones and is quarantined for the rest;
2. the provenance items of the batch's records are read in one query; new signals are
   inserted, returning ones revived, re-seen ones get ``last_seen``, signals a record no
   longer carries (and every signal of a deleted record) are marked removed;
3. the bank gets new and revived entries through :func:`shieldwall.banks.service.store_entries`
   (one duplicate check and one bulk insert), label changes through
   :func:`~shieldwall.banks.service.relabel_entries`, and loses the entries no live item
   (of any exchange feeding that bank) carries any more, through
   :func:`~shieldwall.banks.service.withdraw_entry_ids` — entries added by hand or by
   reviewers are never removed by an exchange.

Every change is stamped with the transaction's bank ``change_seq``, so every server's
index picks it up. Applying the same batch twice changes nothing the second time.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from operator import itemgetter
from typing import Any, cast

from sqlalchemy.orm import Session

from shieldwall.banks import service as banks
from shieldwall.banks.models import Bank
from shieldwall.banks.schemas import LABEL_PATTERN, MAX_LABELS, AddOutcome, EntrySource
from shieldwall.core.errors import InvalidInput
from shieldwall.core.signals import SignalType, normalise
from shieldwall.exchanges import repository
from shieldwall.exchanges.models import Exchange
from shieldwall.exchanges.sources import SIGNAL_KEYED, record_names
from shieldwall.integrations.exchanges.base import (
    MAX_RECORD_ID,
    RecordNames,
    Rejected,
    SourceRecord,
    printable,
)

_LABEL = re.compile(LABEL_PATTERN)
#: Most quarantine rows kept per exchange; beyond it bad records are only counted.
MAX_QUARANTINE = 10_000
_TYPES = {t.value: t for t in SignalType}

Key = tuple[str, str]


@dataclass
class Applied:
    records: int = 0
    added: int = 0
    updated: int = 0
    removed: int = 0
    quarantined: int = 0
    skipped: int = 0
    #: Of a first load: values the bank already held (not a count of the run's report).
    held: int = 0

    def add(self, other: Applied) -> None:
        for name in ("records", "added", "updated", "removed", "quarantined", "skipped"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def as_payload(self) -> dict[str, int]:
        return {
            "records": self.records,
            "added": self.added,
            "updated": self.updated,
            "removed": self.removed,
            "quarantined": self.quarantined,
            "skipped": self.skipped,
        }


@dataclass(slots=True)
class _Checked:
    record_id: str
    labels: list[str]
    entries: dict[Key, banks.NewEntry] = field(default_factory=dict)
    deleted: bool = False
    #: The signal the record id names (``<prefix>:<value>``, see
    #: :class:`~shieldwall.integrations.exchanges.base.RecordNames`), or None. Such a
    #: record's name is kept once: its provenance item's record id is ``''`` (it is found
    #: through its entry) and the entry it adds has no ``source_record_id``.
    key: Key | None = None

    def item_record_id(self, key: Key) -> str:
        """The record id its provenance item of ``key`` keeps (see :attr:`key`)."""
        return "" if key == self.key else self.record_id


@dataclass(frozen=True)
class Rules:
    """What checking a record needs to know of its exchange and bank: a plain snapshot, so
    records can be checked away from the database (the runner checks them on the thread
    that fetches, while the previous batch is written)."""

    name: str
    labels: tuple[str, ...] | None
    extra_labels: tuple[str, ...]
    #: How the source names records after their signal (None: it does not).
    names: RecordNames | None = None

    @classmethod
    def of(cls, bank: Bank, exchange: Exchange) -> Rules:
        return cls(
            name=bank.name,
            labels=tuple(bank.labels) if bank.labels else None,
            extra_labels=tuple(exchange.labels or ()),
            names=record_names(exchange.type),
        )


@dataclass
class Checked:
    """Records checked under ``rules``, ready to apply (see :func:`check_records`)."""

    rules: Rules
    records: list[_Checked] = field(default_factory=list)
    #: Record ids applied only in part (they stay in quarantine).
    partial: set[str] = field(default_factory=set)
    #: Records refused by the checks (the adapter's own refusals are not in it).
    rejected: list[Rejected] = field(default_factory=list)

    def extend(self, other: Checked) -> None:
        """Append ``other`` (checked later): the last occurrence of each record id wins."""
        self.records.extend(other.records)
        for record in other.records:
            if record.record_id in other.partial:
                self.partial.add(record.record_id)
            else:
                self.partial.discard(record.record_id)
        self.rejected.extend(other.rejected)


def _check_labels(bank: Rules, record: SourceRecord, extra: Sequence[str]) -> list[str]:
    labels = sorted({*record.labels, *extra})
    if len(labels) > MAX_LABELS:
        raise InvalidInput(f"more than {MAX_LABELS} labels")
    for label in labels:
        if not isinstance(label, str) or not _LABEL.fullmatch(label):
            shown = str(label)[:40]
            raise InvalidInput(f"label {shown!r} is malformed: 1-40 letters, digits or _ . : -")
    banks.check_labels(bank, labels)
    return labels


#: Hex signal types and their lengths: checked inline (the common case, a million times
#: in a large fetch); anything that fails the quick check goes through ``normalise`` for
#: its exact error. Looked up by name: a StrEnum member is equal to (and hashes as) its name.
_HEX_LENGTHS: dict[str, int] = {
    SignalType.MD5: 32,
    SignalType.VIDEO_MD5: 32,
    SignalType.SHA1: 40,
    SignalType.SHA256: 64,
    SignalType.PDQ: 64,
}
_HEX_DIGITS = "0123456789abcdef"


_KNOWN_TYPES = ", ".join(t.value for t in SignalType)
_EXCHANGE = EntrySource.EXCHANGE.value


def _check_signal(kind: str, value: str) -> tuple[str, str, str]:
    """(signal type, canonical value, value key) of one signal, or InvalidInput."""
    length = _HEX_LENGTHS.get(kind)
    if length is not None and isinstance(value, str):
        text = value.strip().lower()
        if len(text) == length and not text.strip(_HEX_DIGITS):
            return kind, text, text  # a hex signal's canonical value is its key
    signal_type = _TYPES.get(kind)
    if signal_type is None:
        # never quote it: a list file's first word may be anything (even a secret)
        raise InvalidInput(f"unknown signal type; known: {_KNOWN_TYPES}")
    canonical = normalise(signal_type, value)
    return signal_type.value, canonical, banks.value_key(signal_type, canonical)


def check_records(rules: Rules, records: Sequence[SourceRecord]) -> Checked:
    """Check ``records`` under ``rules``: those ready to apply (the last occurrence of each
    record id wins), the ids of those applied only in part, and those refused. Touches no
    database."""
    rejected: list[Rejected] = []
    extra_labels = rules.extra_labels
    bank = rules
    names = rules.names
    by_id: dict[str, _Checked] = {}
    partial: set[str] = set()
    # Records of one source mostly carry the same labels: check each set once, and share
    # one list object (so the bulk insert converts it once).
    checked_labels: dict[tuple[str, ...], list[str] | InvalidInput] = {}
    for record in records:
        record_id = record.record_id
        if not record_id or len(record_id) > MAX_RECORD_ID or printable(record_id) != record_id:
            rejected.append(
                Rejected(
                    printable(record_id or "(empty)")[:200],
                    "the record id is empty, longer than 200 characters or not printable",
                )
            )
            continue
        if record.deleted:
            key = None if names is None else _named_signal(names, record_id)
            by_id[record_id] = _Checked(record_id, [], deleted=True, key=key)
            continue
        found = checked_labels.get(record.labels)
        if found is None:
            try:
                found = _check_labels(bank, record, extra_labels)
            except InvalidInput as exc:
                found = exc
            checked_labels[record.labels] = found
        if isinstance(found, InvalidInput):
            rejected.append(Rejected(record_id, found.message[:500]))
            continue
        labels = found
        checked = _Checked(record_id, labels)
        problems: list[str] = []
        # a record named after its one signal: neither its entry nor its item keeps the
        # name again (see _Checked.key)
        one = names if len(record.signals) == 1 else None
        for kind, value in record.signals:
            try:
                signal_type, canonical, key_value = _check_signal(kind, value)
            except InvalidInput as exc:
                shown = kind if kind in _TYPES else "signal"
                problems.append(f"{shown}: {exc.message}")
                continue
            key = (signal_type, key_value)
            named = one is not None and one.record_id(signal_type, canonical) == record_id
            if named:
                checked.key = key
            checked.entries[key] = banks.NewEntry(
                signal_type=signal_type,
                value=canonical,
                value_key=key_value,
                quality=None,
                labels=labels,
                source_record_id=None if named else record_id,
                disabled_until=None,
                source=_EXCHANGE,
            )
        if problems:
            used = "; the record's other signals were used" if checked.entries else ""
            rejected.append(Rejected(record_id, ("; ".join(problems) + used)[:500]))
            if not checked.entries:
                continue
            partial.add(record_id)
        by_id[record_id] = checked
    return Checked(rules, list(by_id.values()), partial, rejected)


def _named_signal(names: RecordNames, record_id: str) -> Key | None:
    """The key of the signal ``record_id`` names, if it names one exactly."""
    named = names.signal(record_id)
    if named is None:
        return None
    try:
        signal_type, canonical, key_value = _check_signal(*named)
    except InvalidInput:
        return None
    if names.record_id(signal_type, canonical) != record_id:
        return None
    return signal_type, key_value


def apply_records(
    session: Session,
    exchange: Exchange,
    bank: Bank,
    records: Sequence[SourceRecord],
    *,
    seq: int,
    now: datetime,
    run_id: int | None,
    rejected: Sequence[Rejected] = (),
    skipped: int = 0,
    prechecked: Checked | None = None,
    first_load: bool = False,
    look_first: bool = False,
) -> Applied:
    """Apply one batch (see the module docstring); ``rejected`` are records the adapter
    already refused. ``prechecked`` is :func:`check_records` of ``records`` done earlier;
    it is used when the exchange's and bank's labels are still those it was checked
    under (otherwise the records are checked again here). The caller took ``seq`` from
    :func:`shieldwall.banks.changes.change_seq` and commits.

    ``first_load``: the exchange had no provenance items when this run began, and is of a
    :data:`SIGNAL_KEYED` type. Then a record can only have items this run wrote, each for
    the record's own signal, whose entry is in the bank. So the values the bank lacks are
    inserted first (:func:`~shieldwall.banks.service.add_new_entries`: without looking
    them up, unless the bank holds one of them), and the items are read only of records
    whose signal the bank already held (or that are deleted) -- on a large first fetch,
    one index probe per record instead of three. ``look_first``: look the values up before
    inserting even on PostgreSQL (see ``add_new_entries``); the result's ``held`` says how
    many of a first load's values the bank held."""
    result = Applied(records=len(records) + len(rejected) + skipped, skipped=skipped)
    rules = Rules.of(bank, exchange)
    if prechecked is None or prechecked.rules != rules:
        prechecked = check_records(rules, records)
    bad = [*rejected, *prechecked.rejected]
    partial = prechecked.partial
    # the last occurrence of each record id wins (a batch may join several checked pages)
    checked = list({c.record_id: c for c in prechecked.records}.values())
    added_by = f"exchange:{exchange.id}"
    in_bank: dict[Key, tuple[int, bool]] | None = None
    fresh: dict[Key, int] = {}
    probe = checked
    inserts: list[tuple[str, Key, list[str]]] = []
    if first_load and exchange.type in SIGNAL_KEYED:
        new = {key: entry for c in checked if not c.deleted for key, entry in c.entries.items()}
        keys = sorted(new)  # the indexes are then written page after page (see below)
        fresh, in_bank = banks.add_new_entries(
            session,
            bank,
            [new[key] for key in keys],
            added_by=added_by,
            seq=seq,
            now=now,
            look_first=look_first,
        )
        result.held = len(in_bank)
        probe = []
        for c in checked:
            if c.deleted or not in_bank.keys().isdisjoint(c.entries):
                probe.append(c)
            else:  # its signal was new to the bank: its only item is the one made now
                inserts.extend((c.item_record_id(key), key, c.labels) for key in c.entries)
    existing = _items_of(session, exchange.id, bank.id, probe)

    changes: list[dict[str, Any]] = []
    touched: list[int] = []
    gone: dict[Key, int] = {}
    wanted: dict[Key, banks.NewEntry] = {}
    relabel: dict[Key, list[str]] = {}
    for record in probe:
        items = existing.get(record.record_id)
        have = {(row[3], row[4]): row for row in items} if items else {}
        for key, row in have.items():
            item_id, _, entry_id, _, _, labels, removed_at = row
            if record.deleted or key not in record.entries:
                if removed_at is None:
                    changes.append(_change(item_id, labels, now, gone=now))
                    gone[key] = entry_id
            elif removed_at is not None:
                changes.append(_change(item_id, record.labels, now, gone=None))
                wanted[key] = record.entries[key]
            elif labels != record.labels:
                changes.append(_change(item_id, record.labels, now, gone=None))
                relabel[key] = record.labels
            else:
                touched.append(item_id)
        for key, entry in record.entries.items():
            if key not in have:
                inserts.append((record.item_record_id(key), key, record.labels))
                wanted[key] = entry

    entry_ids: dict[Key, int] = dict(fresh)
    result.added = len(fresh)
    # in key order: the indexes of a large table are then written page after page instead
    # of at random, which keeps a million-record fetch from slowing down as it grows (for
    # list-like sources, record ids and values sort alike)
    keys = sorted(key for key in wanted if key not in fresh)
    if keys:
        outcomes = banks.store_entries(
            session,
            bank,
            [wanted[key] for key in keys],
            added_by=added_by,
            seq=seq,
            now=now,
            existing=in_bank,
        )
        result.added += sum(o is not AddOutcome.DUPLICATE for o, _ in outcomes)
        entry_ids.update(
            (key, cast(int, entry_id)) for key, (_, entry_id) in zip(keys, outcomes, strict=True)
        )
    # in repository.ITEM_COLUMNS order, sorted like the unique index
    exchange_id = exchange.id
    new_items = [
        (exchange_id, record_id, entry_ids[key], labels, now, now, None)
        for record_id, key, labels in inserts
    ]
    new_items.sort(key=_item_order)
    repository.insert_items(session, new_items)
    repository.update_items(session, changes)
    repository.touch_items(session, touched, now=now)

    relabel = {k: v for k, v in relabel.items() if k not in wanted}
    if relabel:
        banks.relabel_entries(session, bank, relabel, source=EntrySource.EXCHANGE, seq=seq, now=now)
        result.updated = len(relabel)
    orphans = {entry_id for key, entry_id in gone.items() if key not in wanted}
    if orphans:
        orphans -= repository.claimed_entries(session, orphans)
        result.removed = banks.withdraw_entry_ids(
            session, sorted(orphans), source=EntrySource.EXCHANGE, seq=seq, now=now
        )

    clean = [c.record_id for c in checked if c.record_id not in partial]
    if clean and repository.has_quarantine(session, exchange.id):
        repository.clear_quarantine(session, exchange.id, clean)
    result.quarantined = len(bad)
    quarantine(session, exchange.id, bad, run_id=run_id, now=now)
    return result


_item_order = itemgetter(1, 2)


def _items_of(
    session: Session, exchange_id: int, bank_id: int, records: Sequence[_Checked]
) -> dict[str, list[repository.ItemRow]]:
    """The provenance items of ``records``, by record id: those named after their signal
    found through the bank's entry of it, the others by their record id."""
    existing: dict[str, list[repository.ItemRow]] = {}
    by_key = {c.key: c.record_id for c in records if c.key is not None}
    named = [c.record_id for c in records if c.key is None]
    for row in repository.items_for_records(session, exchange_id, named):
        existing.setdefault(row[1], []).append(row)
    for row in repository.items_for_signals(session, exchange_id, bank_id, list(by_key)):
        existing.setdefault(by_key[(row[3], row[4])], []).append(row)
    return existing


def _change(
    item_id: int, labels: list[str], now: datetime, *, gone: datetime | None
) -> dict[str, Any]:
    return {"item_id": item_id, "new_labels": labels, "seen": now, "gone": gone}


def quarantine(
    session: Session,
    exchange_id: int,
    rejected: Sequence[Rejected],
    *,
    run_id: int | None,
    now: datetime,
) -> None:
    """Keep (or refresh) one row per rejected record, up to :data:`MAX_QUARANTINE`."""
    if not rejected:
        return
    latest: dict[str, str] = {}
    for item in rejected:
        latest[printable(item.record_id)[:200] or "(empty)"] = printable(item.reason)[:500]
    known = repository.quarantined_ids(session, exchange_id, list(latest))
    repository.bump_quarantine(
        session,
        [
            {"q_id": known[rid], "new_reason": reason, "seen": now, "run": run_id}
            for rid, reason in latest.items()
            if rid in known
        ],
    )
    fresh = [(rid, reason) for rid, reason in latest.items() if rid not in known]
    if not fresh:
        return
    room = MAX_QUARANTINE - repository.quarantine_counts(session, [exchange_id]).get(exchange_id, 0)
    repository.insert_quarantine(
        session,
        [
            {
                "exchange_id": exchange_id,
                "record_id": rid,
                "reason": reason,
                "run_id": run_id,
                "first_seen": now,
                "last_seen": now,
                "times": 1,
            }
            for rid, reason in fresh[: max(0, room)]
        ],
    )


def sweep(
    session: Session,
    exchange: Exchange,
    bank: Bank,
    *,
    before: datetime,
    seq: int,
    now: datetime,
    limit: int = 5000,
    after_id: int = 0,
) -> tuple[int, int, int]:
    """Mark up to ``limit`` items not seen since ``before`` (with ids above ``after_id``)
    removed (a snapshot source no longer lists them) and withdraw their entries; returns
    (items, entries removed, the last item id: where the next call continues)."""
    stale = repository.stale_items(session, exchange.id, before, limit, after_id=after_id)
    if not stale:
        return 0, 0, after_id
    repository.remove_items(session, [i for i, _ in stale], now=now)
    entries = {entry_id for _, entry_id in stale}
    entries -= repository.claimed_entries(session, entries)
    removed = banks.withdraw_entry_ids(
        session, sorted(entries), source=EntrySource.EXCHANGE, seq=seq, now=now
    )
    return len(stale), removed, stale[-1][0]
