"""Records named after their signal (``<prefix>:<value>``): their provenance items keep no
record id of their own and are found through their entry; every other record keeps its id."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import select

from shieldwall.banks.models import Bank, BankEntry
from shieldwall.db.engine import Database
from shieldwall.devtools import fake_stopncii
from shieldwall.exchanges import repository, service
from shieldwall.exchanges.models import ExchangeItem
from shieldwall.integrations.exchanges.base import RecordNames, SourceRecord, signal_name
from shieldwall.integrations.exchanges.local_file import RECORD_NAMES as LISTS
from shieldwall.integrations.exchanges.local_file import record_id_for
from shieldwall.integrations.exchanges.stop_ncii import RECORD_NAMES as STOP_NCII
from shieldwall.integrations.exchanges.stop_ncii import parse_record
from tests.banks.conftest import md5_of, pdq_of, vpdq_of
from tests.exchanges.conftest import Fetch, MakeExchange, live_values
from tests.exchanges.test_batches import STOPNCII_CREDENTIALS


def test_a_record_name_and_the_signal_it_names_go_both_ways() -> None:
    value = pdq_of(1)
    assert STOP_NCII.record_id("pdq", value) == f"ImagePDQ:{value}"
    assert STOP_NCII.signal(f"ImagePDQ:{value}") == ("pdq", value)
    assert STOP_NCII.signal(f"VideoMD5:{md5_of(1)}") == ("video_md5", md5_of(1))
    assert LISTS.record_id("md5", md5_of(2)) == f"md5:{md5_of(2)}"
    assert LISTS.signal(f"md5:{md5_of(2)}") == ("md5", md5_of(2))
    # what the adapters name their records is what RecordNames says
    record = parse_record(fake_stopncii.record(value, ts=1_700_000_000), 0)
    assert isinstance(record, SourceRecord)
    assert record.record_id == STOP_NCII.record_id("pdq", value)
    assert record_id_for("pdq", value.upper()) == LISTS.record_id("pdq", value)


@pytest.mark.parametrize(
    "record_id",
    ["", "ImagePDQ", "ImagePDQ:", "pdq:" + "0" * 64, "Unknown:abc", ":abc", "imagepdq:abc"],
)
def test_a_record_id_that_names_no_signal_of_the_source_gives_none(record_id: str) -> None:
    assert STOP_NCII.signal(record_id) is None


def test_a_name_longer_than_a_record_id_may_be_is_no_signals_name() -> None:
    names = RecordNames({"vpdq": "vpdq"})
    assert signal_name("vpdq", "a" * 196) is None  # "vpdq:" and 196 more: 201 characters
    assert names.record_id("vpdq", "a" * 196) is None
    assert names.record_id("vpdq", "a" * 195) == "vpdq:" + "a" * 195  # 200: the most
    assert names.record_id("pdq", "abc") is None  # a type the source has no name for


def _items(db: Database, bank_id: int) -> list[tuple[str, str, str, str | None, bool]]:
    """(item record id, signal type, value, entry source_record_id, item live)."""
    with db.session() as session:
        rows = session.execute(
            select(
                ExchangeItem.record_id,
                BankEntry.signal_type,
                BankEntry.value,
                BankEntry.source_record_id,
                ExchangeItem.removed_at.is_(None),
            )
            .join(BankEntry, BankEntry.id == ExchangeItem.entry_id)
            .where(BankEntry.bank_id == bank_id)
        ).all()
    return sorted((str(a), str(b), str(c), d, bool(e)) for a, b, c, d, e in rows)


def test_a_list_keeps_the_record_ids_only_of_records_not_named_after_their_signal(
    tmp_path: Path, make_exchange: MakeExchange, fetch: Fetch, db: Database, bank: Bank
) -> None:
    long = vpdq_of(1)  # its record id is a digest of it (too long to be its name)
    path = tmp_path / "list.txt"
    path.write_text(f"pdq {pdq_of(1)}\nmd5 {md5_of(1)}\nvpdq {long}\n")
    name = make_exchange("file", "local_file", {"path": str(path)})
    run = fetch(name)
    assert (run.status, run.added) == ("succeeded", 3), run.error
    long_id = record_id_for("vpdq", long)
    assert long_id.startswith("vpdq:sha256:")
    items = _items(db, bank.id)
    assert items == sorted(
        [
            ("", "pdq", pdq_of(1), None, True),
            ("", "md5", md5_of(1), None, True),
            (long_id, "vpdq", long, long_id, True),
        ]
    )
    with db.session() as session:
        exchange = service.get_exchange(session, name)
        (shown,) = service.describe(session, [exchange])
        assert shown.records == 3
        # the record ids are spelled out where provenance is shown
        entry_ids = session.scalars(select(BankEntry.id).where(BankEntry.bank_id == bank.id))
        named = {r for _, _, r, _ in repository.items_for_entries(session, list(entry_ids))}
    assert named == {f"pdq:{pdq_of(1)}", f"md5:{md5_of(1)}", long_id}

    # the next snapshot drops the md5 and the vPDQ: both are found and removed
    path.write_text(f"pdq {pdq_of(1)}\n")
    os.utime(path, ns=(1, 1))
    run = fetch(name)
    assert (run.status, run.removed) == ("succeeded", 2), run.error
    assert set(live_values(db, bank.id)) == {("pdq", pdq_of(1))}
    assert [live for *_, live in _items(db, bank.id)].count(True) == 1


def test_a_stopncii_record_sent_again_or_deleted_later_finds_its_item_through_its_entry(
    make_exchange: MakeExchange,
    fetch: Fetch,
    db: Database,
    bank: Bank,
    stopncii: tuple[fake_stopncii.FakeStopNcii, str],
) -> None:
    fake, url = stopncii
    pdqs = [fake_stopncii.pdq_for(i, "named") for i in range(4)]
    fake.set_records([fake_stopncii.record(p, ts=1_700_000_000 + i) for i, p in enumerate(pdqs)])
    name = make_exchange(
        "stop",
        "stop_ncii",
        {"base_url": url},
        credentials=STOPNCII_CREDENTIALS,
    )
    first = fetch(name)
    assert (first.status, first.added) == ("succeeded", 4), first.error
    # a later run (no first load): one record sent again, one deleted
    fake.set_records(
        [
            fake_stopncii.record(pdqs[1], ts=1_700_000_100),
            fake_stopncii.record(pdqs[2], ts=1_700_000_101, status="Withdrawn"),
        ]
    )
    again = fetch(name)
    assert (again.status, again.added, again.removed) == ("succeeded", 0, 1), again.error
    assert set(live_values(db, bank.id)) == {("pdq", p) for i, p in enumerate(pdqs) if i != 2}
    # still one item per record: the resent record's was found, not made twice
    assert _items(db, bank.id) == sorted(("", "pdq", p, None, i != 2) for i, p in enumerate(pdqs))
