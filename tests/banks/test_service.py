"""The rules for banks and entries, through the service layer."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shieldwall.audit import repository as audit_repository
from shieldwall.audit.service import verify_chain
from shieldwall.banks import repository, service
from shieldwall.banks.changes import current_seq
from shieldwall.banks.models import Bank, BankEntry
from shieldwall.banks.schemas import (
    AddOutcome,
    BankCreate,
    BankUpdate,
    EntryIn,
    EntrySource,
    EntryUpdate,
)
from shieldwall.core.errors import Conflict, InvalidInput, NotFound
from shieldwall.core.signals import SignalType
from shieldwall.db.base import utcnow
from shieldwall.db.engine import Database
from tests.banks.conftest import BankFactory, entries_of, md5_of, pdq_of, sha256_of, vpdq_of
from tests.conftest import SYSTEM

pytestmark = pytest.mark.db


def add(session: Session, bank: str, *items: EntryIn) -> list[tuple[AddOutcome, int]]:
    result = service.add_entries(session, bank, list(items), actor=SYSTEM)
    return [(r.outcome, r.id) for r in result.items]


# ---- banks ---------------------------------------------------------------------------------


def test_create_bank_has_the_documented_defaults(session: Session) -> None:
    bank = service.create_bank(session, BankCreate(name="NCMEC_CSAM"), actor=SYSTEM)
    session.commit()
    assert (bank.kind, bank.action, bank.enabled) == ("block", "block", True)
    assert (bank.pdq_threshold, bank.vpdq_distance) == (31, 31)
    assert (bank.vpdq_query_pct, bank.vpdq_target_pct) == (80.0, 0.0)
    assert (bank.dihedral, bank.letterbox) == (False, False)
    assert bank.labels == []
    assert bank.change_seq >= 1


@pytest.mark.parametrize("name", ["lower", "1STARTS_WITH_DIGIT", "HAS-DASH", "", "X" * 101])
def test_bank_names_follow_hma(name: str) -> None:
    with pytest.raises(ValidationError):
        BankCreate(name=name)


@pytest.mark.parametrize("name", ["A", "_X", "NCMEC_CSAM_2024", "X" * 100])
def test_good_bank_names(name: str) -> None:
    assert BankCreate(name=name).name == name


@pytest.mark.parametrize(
    "fields",
    [
        {"pdq_threshold": -1},
        {"pdq_threshold": 65},
        {"vpdq_distance": 65},
        {"vpdq_query_pct": 100.5},
        {"vpdq_target_pct": -1},
        {"labels": ["has space"]},
        {"labels": ["x" * 41]},
        {"kind": "maybe"},
        {"action": "delete"},
    ],
)
def test_out_of_range_settings_are_refused(fields: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        BankCreate(name="B", **fields)  # type: ignore[arg-type]


def test_allow_bank_takes_no_action(session: Session) -> None:
    with pytest.raises(InvalidInput, match="block banks only"):
        service.create_bank(
            session, BankCreate(name="FP", kind="allow", action="review"), actor=SYSTEM
        )
    session.rollback()
    bank = service.create_bank(session, BankCreate(name="FP", kind="allow"), actor=SYSTEM)
    assert bank.action == ""
    assert service.describe(session, [bank])[0].action is None
    with pytest.raises(InvalidInput, match="allow bank"):
        service.update_bank(session, "FP", BankUpdate(action="block"), actor=SYSTEM)


def test_duplicate_name_is_a_conflict(session: Session, make_bank: BankFactory) -> None:
    make_bank("DUP")
    with pytest.raises(Conflict, match="already exists"):
        service.create_bank(session, BankCreate(name="DUP"), actor=SYSTEM)


def test_update_changes_settings_stamps_a_new_seq_and_records_what_changed(
    session: Session, make_bank: BankFactory
) -> None:
    bank = make_bank("UPD")
    before = bank.change_seq
    updated = service.update_bank(
        session, "UPD", BankUpdate(pdq_threshold=20, enabled=False, action="review"), actor=SYSTEM
    )
    session.commit()
    assert (updated.pdq_threshold, updated.enabled, updated.action) == (20, False, "review")
    assert updated.change_seq > before
    event = audit_repository.list_events(session, subject=f"bank:{bank.id}", limit=1)[0]
    assert event.kind == "bank.updated"
    assert event.payload == {"pdq_threshold": 20, "enabled": False, "action": "review"}
    assert event.principles == [1]


def test_update_with_no_change_writes_nothing(session: Session, make_bank: BankFactory) -> None:
    bank = make_bank("SAME")
    service.update_bank(session, "SAME", BankUpdate(pdq_threshold=31), actor=SYSTEM)
    session.commit()
    assert [e.kind for e in audit_repository.list_events(session, subject=f"bank:{bank.id}")] == [
        "bank.created"
    ]


def test_narrowing_labels_in_use_is_a_conflict(session: Session, make_bank: BankFactory) -> None:
    make_bank("LBL", labels=["A1", "A2", "B1"])
    add(session, "LBL", EntryIn(signal_type="md5", value=md5_of(1), labels=["A2"]))
    session.commit()
    with pytest.raises(Conflict, match="A2"):
        service.update_bank(session, "LBL", BankUpdate(labels=["A1", "B1"]), actor=SYSTEM)
    session.rollback()
    bank = service.update_bank(session, "LBL", BankUpdate(labels=["A2", "B2"]), actor=SYSTEM)
    assert bank.labels == ["A2", "B2"]


def test_unknown_bank_is_not_found(session: Session) -> None:
    with pytest.raises(NotFound, match="NOPE"):
        service.get_bank(session, "NOPE")


def test_delete_is_soft_removes_entries_with_a_new_seq_and_frees_the_name(
    session: Session, make_bank: BankFactory, db: Database
) -> None:
    bank = make_bank("GONE")
    add(
        session,
        "GONE",
        *(EntryIn(signal_type="md5", value=md5_of(i)) for i in range(5)),
    )
    session.commit()
    seq_before = current_seq(session)
    deleted, removed = service.delete_bank(session, "GONE", actor=SYSTEM)
    session.commit()
    assert removed == 5
    assert deleted.deleted_at is not None
    rows = entries_of(db, bank.id)
    assert len(rows) == 5
    assert all(r.removed_at is not None for r in rows)
    assert {r.change_seq for r in rows} == {deleted.change_seq}
    assert deleted.change_seq > seq_before
    with pytest.raises(NotFound):
        service.get_bank(session, "GONE")
    # the row stays, under a tombstone name no live bank can have
    assert session.get(Bank, bank.id) is not None
    assert session.get(Bank, bank.id).name == f"GONE__deleted_{bank.id}"  # type: ignore[union-attr]
    event = audit_repository.list_events(session, subject=f"bank:{bank.id}", limit=1)[0]
    assert (event.kind, event.payload) == (
        "bank.deleted",
        {"name": "GONE", "entries_removed": 5},
    )
    again = service.create_bank(session, BankCreate(name="GONE"), actor=SYSTEM)
    assert again.id != bank.id
    assert repository.list_banks(session) == [again]


# ---- entries -------------------------------------------------------------------------------


def test_add_normalises_and_keys_values(session: Session, make_bank: BankFactory) -> None:
    make_bank("B")
    value = pdq_of(1).upper()
    [(outcome, entry_id)] = add(session, "B", EntryIn(signal_type="PDQ", value=f" {value} "))
    session.commit()
    entry = session.get(BankEntry, entry_id)
    assert outcome is AddOutcome.ADDED
    assert entry is not None
    assert (entry.signal_type, entry.value, entry.value_key) == ("pdq", pdq_of(1), pdq_of(1))
    assert (entry.source, entry.added_by) == ("manual", SYSTEM.actor)


def test_vpdq_entries_are_keyed_by_the_sha256_of_the_canonical_value(
    session: Session, make_bank: BankFactory
) -> None:
    import hashlib
    import json

    make_bank("VIDEO")
    canonical = vpdq_of(1, frames=4)
    spaced = json.dumps(json.loads(canonical), indent=2)  # same frames, other spacing
    [(outcome, entry_id)] = add(session, "VIDEO", EntryIn(signal_type="vpdq", value=spaced))
    entry = session.get(BankEntry, entry_id)
    assert entry is not None
    assert outcome is AddOutcome.ADDED
    assert entry.value == canonical
    assert entry.value_key == hashlib.sha256(canonical.encode()).hexdigest()
    again = add(session, "VIDEO", EntryIn(signal_type="vpdq", value=canonical))
    assert again == [(AddOutcome.DUPLICATE, entry_id)]


def test_value_key_hashes_long_and_vpdq_values() -> None:
    short = md5_of(1)
    assert service.value_key(SignalType.MD5, short) == short
    long_value = "a" * 65
    assert len(service.value_key(SignalType.SHA256, long_value)) == 64
    assert service.value_key(SignalType.SHA256, long_value) != long_value[:64]
    assert service.value_key(SignalType.VPDQ, "x") == service.value_key(SignalType.VPDQ, "x")
    assert len(service.value_key(SignalType.VPDQ, "x")) == 64


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ({"signal_type": "pdq", "value": "ab" * 16}, "pdq"),
        ({"signal_type": "pdq", "value": "zz" * 32}, "pdq"),
        ({"signal_type": "photodna", "value": md5_of(1)}, "unknown signal type 'photodna'"),
        ({"signal_type": "md5", "value": md5_of(1), "quality": 90}, "pdq hashes only"),
        ({"signal_type": "md5", "value": md5_of(1), "labels": ["C9"]}, "C9"),
    ],
)
def test_invalid_items_fail_the_whole_call_naming_the_index(
    session: Session,
    make_bank: BankFactory,
    db: Database,
    item: dict[str, object],
    message: str,
) -> None:
    bank = make_bank("STRICT", labels=["A1", "B1"])
    good = EntryIn(signal_type="md5", value=md5_of(2))
    with pytest.raises(InvalidInput, match=message) as caught:
        add(session, "STRICT", good, EntryIn.model_validate(item))
    assert caught.value.message.startswith("entries[1]: ")
    assert caught.value.context["index"] == 1
    session.rollback()
    assert entries_of(db, bank.id) == []


def test_duplicates_and_revival(session: Session, make_bank: BankFactory, db: Database) -> None:
    bank = make_bank("DR")
    a, b = EntryIn(signal_type="md5", value=md5_of(1)), EntryIn(signal_type="md5", value=md5_of(2))
    first = add(session, "DR", a, b, a)
    session.commit()
    assert [o for o, _ in first] == [AddOutcome.ADDED, AddOutcome.ADDED, AddOutcome.DUPLICATE]
    assert first[0][1] == first[2][1]

    again = add(session, "DR", a)
    session.commit()
    assert again == [(AddOutcome.DUPLICATE, first[0][1])]

    removed = service.remove_entry(session, "DR", first[0][1], actor=SYSTEM)
    session.commit()
    removed_seq = removed.change_seq
    revived = add(session, "DR", EntryIn(signal_type="md5", value=md5_of(1), labels=["x"]))
    session.commit()
    assert revived == [(AddOutcome.REVIVED, first[0][1])]
    [row] = [r for r in entries_of(db, bank.id) if r.id == first[0][1]]
    assert row.removed_at is None
    assert row.change_seq > removed_seq
    assert row.labels == ["x"]
    assert len(entries_of(db, bank.id)) == 2


def test_same_value_in_two_banks_is_two_entries(session: Session, make_bank: BankFactory) -> None:
    make_bank("ONE")
    make_bank("TWO")
    item = EntryIn(signal_type="sha256", value=sha256_of(1))
    assert add(session, "ONE", item)[0][0] is AddOutcome.ADDED
    assert add(session, "TWO", item)[0][0] is AddOutcome.ADDED


def test_all_duplicate_call_records_no_event(session: Session, make_bank: BankFactory) -> None:
    bank = make_bank("QUIET")
    item = EntryIn(signal_type="md5", value=md5_of(1))
    add(session, "QUIET", item)
    add(session, "QUIET", item)
    session.commit()
    kinds = [e.kind for e in audit_repository.list_events(session, subject=f"bank:{bank.id}")]
    assert kinds == ["bank.entries_added", "bank.created"]


def test_event_payload_has_counts_and_ids_never_values(
    session: Session, make_bank: BankFactory
) -> None:
    bank = make_bank("AUDIT")
    add(session, "AUDIT", EntryIn(signal_type="pdq", value=pdq_of(9), source_record_id="r-1"))
    session.commit()
    event = audit_repository.list_events(session, subject=f"bank:{bank.id}", limit=1)[0]
    assert event.kind == "bank.entries_added"
    assert event.payload["added"] == 1
    assert pdq_of(9) not in str(event.payload)
    assert verify_chain(session).ok


def test_every_change_stamps_rows_with_a_greater_seq(
    session: Session, make_bank: BankFactory
) -> None:
    """An index that remembers the last seq it saw finds every later change."""
    make_bank("SEQ")
    seen: list[int] = [current_seq(session)]
    session.commit()

    def stamped(entry_id: int) -> int:
        session.expire_all()
        entry = session.get(BankEntry, entry_id)
        assert entry is not None
        return entry.change_seq

    [(_, entry_id)] = add(session, "SEQ", EntryIn(signal_type="md5", value=md5_of(1)))
    session.commit()
    seen.append(stamped(entry_id))
    service.update_entry(session, "SEQ", entry_id, EntryUpdate(labels=["x"]), actor=SYSTEM)
    session.commit()
    seen.append(stamped(entry_id))
    later = utcnow() + timedelta(days=1)
    service.update_entry(session, "SEQ", entry_id, EntryUpdate(disabled_until=later), actor=SYSTEM)
    session.commit()
    seen.append(stamped(entry_id))
    service.remove_entry(session, "SEQ", entry_id, actor=SYSTEM)
    session.commit()
    seen.append(stamped(entry_id))
    add(session, "SEQ", EntryIn(signal_type="md5", value=md5_of(1)))
    session.commit()
    seen.append(stamped(entry_id))
    assert seen == sorted(set(seen)), seen
    assert current_seq(session) == seen[-1]
    # a poller from the first watermark finds the entry exactly once
    changed = session.scalars(select(BankEntry.id).where(BankEntry.change_seq > seen[0])).all()
    assert changed == [entry_id]


def test_update_entry_rules(session: Session, make_bank: BankFactory) -> None:
    make_bank("UE", labels=["A1", "B1"])
    [(_, entry_id)] = add(session, "UE", EntryIn(signal_type="md5", value=md5_of(1)))
    with pytest.raises(InvalidInput, match="Z9"):
        service.update_entry(session, "UE", entry_id, EntryUpdate(labels=["Z9"]), actor=SYSTEM)
    until = utcnow() + timedelta(hours=2)
    entry = service.update_entry(
        session,
        "UE",
        entry_id,
        EntryUpdate(labels=["B1", "A1"], disabled_until=until, source_record_id=" case-7 "),
        actor=SYSTEM,
    )
    assert (entry.labels, entry.source_record_id) == (["A1", "B1"], "case-7")
    assert entry.disabled_until == until
    entry = service.update_entry(
        session,
        "UE",
        entry_id,
        EntryUpdate.model_validate({"disabled_until": None}),
        actor=SYSTEM,
    )
    assert entry.disabled_until is None
    assert entry.source_record_id == "case-7"  # omitted: unchanged
    service.remove_entry(session, "UE", entry_id, actor=SYSTEM)
    with pytest.raises(Conflict, match="removed"):
        service.update_entry(session, "UE", entry_id, EntryUpdate(labels=[]), actor=SYSTEM)
    with pytest.raises(Conflict, match="already removed"):
        service.remove_entry(session, "UE", entry_id, actor=SYSTEM)
    with pytest.raises(NotFound):
        service.remove_entry(session, "UE", entry_id + 1000, actor=SYSTEM)


def test_counts_by_signal_type(session: Session, make_bank: BankFactory) -> None:
    bank = make_bank("CNT")
    add(
        session,
        "CNT",
        EntryIn(signal_type="md5", value=md5_of(1)),
        EntryIn(signal_type="md5", value=md5_of(2)),
        EntryIn(signal_type="md5", value=md5_of(3), disabled_until=utcnow() + timedelta(days=1)),
        EntryIn(signal_type="pdq", value=pdq_of(1), quality=90, source=EntrySource.REVIEWER),
    )
    first_md5 = session.scalar(select(func.min(BankEntry.id)).where(BankEntry.bank_id == bank.id))
    assert first_md5 is not None
    service.remove_entry(session, "CNT", first_md5, actor=SYSTEM)
    counts = service.counts_for(session, [session.get(Bank, bank.id)])[bank.id]  # type: ignore[list-item]
    assert counts["md5"].model_dump() == {"active": 1, "disabled": 1, "removed": 1}
    assert counts["pdq"].model_dump() == {"active": 1, "disabled": 0, "removed": 0}
    assert repository.count_live_entries_by_type(session) == {"md5": 2, "pdq": 1}
