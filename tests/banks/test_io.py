"""Bank files: every import format, malformed lines, fatal files, all-or-nothing, export."""

from __future__ import annotations

import io as stdio
import itertools
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from shieldwall.audit import repository as audit_repository
from shieldwall.audit.models import Event
from shieldwall.banks import io, repository, service
from shieldwall.banks.models import BankEntry
from shieldwall.banks.schemas import BankCreate, EntryIn, FileFormat, ImportReport
from shieldwall.core.errors import InvalidInput
from shieldwall.db.engine import Database
from tests.banks.conftest import BankFactory, entries_of, md5_of, pdq_of, sha256_of, vpdq_of
from tests.conftest import SYSTEM

pytestmark = pytest.mark.db

HEADER = "signal_type,value,labels,source_record_id,quality\n"


def do_import(
    db: Database, name: str, data: bytes | str, fmt: FileFormat, **limits: Any
) -> ImportReport:
    raw = data.encode() if isinstance(data, str) else data
    with db.session() as s:
        return io.import_entries(
            s, name, stdio.BytesIO(raw), fmt, actor=SYSTEM, limits=io.ImportLimits(**limits)
        )


def export(db: Database, name: str, fmt: FileFormat, batch: int = 1000) -> bytes:
    with db.session() as s:
        bank = service.get_bank(s, name)
        return b"".join(io.export_entries(s, bank, fmt, batch=batch))


def entry_count(db: Database) -> int:
    with db.session() as s:
        return int(s.scalar(select(func.count()).select_from(BankEntry)) or 0)


def event_kinds(db: Database) -> list[str]:
    with db.session() as s:
        return list(s.scalars(select(Event.kind).order_by(Event.id)))


# ---- the three formats ---------------------------------------------------------------------


def test_csv_import_with_every_column(db: Database, make_bank: BankFactory) -> None:
    bank = make_bank("CSV_BANK", labels=["A1", "A2", "B1", "B2"])
    data = (
        HEADER
        + f"pdq,{pdq_of(1)},A1 B1,case-1,92\n"
        + f"md5,{md5_of(1).upper()},,,\n"
        + "\n"
        + f'sha256,{sha256_of(1)},B2,"case,with,commas",\n'
    )
    report = do_import(db, "CSV_BANK", data, FileFormat.CSV)
    assert (report.added, report.duplicates, report.revived, report.rejected) == (3, 0, 0, 0)
    assert report.lines == 5
    assert report.bytes_read == len(data.encode())
    rows = {(r.signal_type, r.value): r for r in entries_of(db, bank.id)}
    pdq = rows["pdq", pdq_of(1)]
    assert (pdq.labels, pdq.source_record_id, pdq.quality) == (["A1", "B1"], "case-1", 92)
    assert (pdq.source, pdq.added_by) == ("file_import", SYSTEM.actor)
    assert rows["md5", md5_of(1)].labels == []
    assert rows["sha256", sha256_of(1)].source_record_id == "case,with,commas"


def test_csv_columns_may_come_in_any_order_and_optional_ones_may_be_missing(
    db: Database, make_bank: BankFactory
) -> None:
    bank = make_bank("ORDER")
    data = f"value,signal_type\n{md5_of(1)},md5\n"
    assert do_import(db, "ORDER", data, FileFormat.CSV).added == 1
    assert entries_of(db, bank.id)[0].value == md5_of(1)


def test_jsonl_import(db: Database, make_bank: BankFactory) -> None:
    bank = make_bank("JSONL_BANK", labels=["A1", "B1"])
    lines = [
        {
            "signal_type": "pdq",
            "value": pdq_of(1),
            "labels": ["A1"],
            "quality": 80,
            "source_record_id": "r1",
        },
        {"signal_type": "md5", "value": md5_of(1)},
        {
            "signal_type": "md5",
            "value": md5_of(2),
            "labels": "A1 B1",
            "source_record_id": None,
            "quality": None,
        },
    ]
    data = "\n".join(json.dumps(x) for x in lines) + "\n\n"
    report = do_import(db, "JSONL_BANK", data, FileFormat.JSONL)
    assert (report.added, report.rejected) == (3, 0)
    rows = {r.value: r for r in entries_of(db, bank.id)}
    assert (rows[pdq_of(1)].quality, rows[pdq_of(1)].source_record_id) == (80, "r1")
    assert rows[md5_of(2)].labels == ["A1", "B1"]


def test_local_file_import(db: Database, make_bank: BankFactory) -> None:
    bank = make_bank("LOCAL")
    data = (
        "# exported by someone\n"
        f"pdq {pdq_of(1)}\n"
        "\n"
        f"  md5   {md5_of(1)}  \r\n"
        "   # an indented comment\n"
        f"video_md5 {md5_of(2)}\n"
    )
    report = do_import(db, "LOCAL", data, FileFormat.LOCAL_FILE)
    assert (report.added, report.rejected, report.lines) == (3, 0, 6)
    assert {(r.signal_type, r.value) for r in entries_of(db, bank.id)} == {
        ("pdq", pdq_of(1)),
        ("md5", md5_of(1)),
        ("video_md5", md5_of(2)),
    }


def test_a_utf8_byte_order_mark_is_ignored(db: Database, make_bank: BankFactory) -> None:
    make_bank("BOM")
    data = "\ufeff".encode() + f"{HEADER}md5,{md5_of(1)},,,\n".encode()
    assert do_import(db, "BOM", data, FileFormat.CSV).added == 1


# ---- malformed lines -----------------------------------------------------------------------


def test_malformed_csv_lines_are_rejected_with_their_line_numbers(
    db: Database, make_bank: BankFactory
) -> None:
    bank = make_bank("MAL", labels=["A1", "A2", "B1", "B2"])
    data = (
        HEADER  # line 1
        + f"pdq,{pdq_of(1)},A1,,\n"  # 2 good
        + f"pdq,{pdq_of(2)[:32]},,,\n"  # 3 a 32-character "PDQ"
        + f"md5,{'g' * 32},,,\n"  # 4 not hex
        + f"photodna,{md5_of(1)},,,\n"  # 5 unknown type
        + f"md5,{md5_of(2)},C3,,\n"  # 6 label outside the bank's set
        + f"md5,{md5_of(3)}\n"  # 7 too few fields
        + f"pdq,{pdq_of(3)},,,high\n"  # 8 quality not a number
        + f"pdq,{pdq_of(4)},,,101\n"  # 9 quality out of range
        + f"md5,{md5_of(4)},,,50\n"  # 10 quality on an md5
        + f"md5,{md5_of(5)},bad/label,,\n"  # 11 malformed label
        + f'md5,"{md5_of(6)},,,\n'  # 12 broken quoting
        + f"sha256,{sha256_of(1)},B2,,\n"  # 13 good
    )
    report = do_import(db, "MAL", data, FileFormat.CSV)
    assert (report.added, report.rejected) == (2, 10)
    by_line = {r.line: r.reason for r in report.rejections}
    assert sorted(by_line) == [3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
    assert "pdq" in by_line[3]
    assert "32" in by_line[3]
    assert "md5" in by_line[4]
    assert "photodna" in by_line[5]
    assert "C3" in by_line[6]
    assert "expected 5 fields" in by_line[7]
    assert "quality" in by_line[8]
    assert "quality" in by_line[9]
    assert "pdq hashes only" in by_line[10]
    assert "malformed" in by_line[11]
    assert str(report.rejections[0]).startswith("line 3: ")
    # no rejected value reached the bank
    assert {r.value for r in entries_of(db, bank.id)} == {pdq_of(1), sha256_of(1)}
    # reasons never quote the hash values
    for reason in by_line.values():
        assert pdq_of(2)[:32] not in reason
        assert md5_of(2) not in reason


def test_malformed_jsonl_and_local_file_lines(db: Database, make_bank: BankFactory) -> None:
    make_bank("J")
    data = (
        json.dumps({"signal_type": "md5", "value": md5_of(1)})
        + "\n"  # 1 good
        + '{"signal_type": "md5", "value": \n'  # 2 broken JSON
        + json.dumps({"signal_type": "md5", "value": md5_of(2), "lables": []})
        + "\n"  # 3
        + json.dumps({"signal_type": "md5"})
        + "\n"  # 4 no value
        + json.dumps({"signal_type": "md5", "value": 7})
        + "\n"  # 5 value not a string
        + json.dumps({"signal_type": "md5", "value": md5_of(3), "labels": [1]})
        + "\n"  # 6
    )
    report = do_import(db, "J", data, FileFormat.JSONL)
    assert report.added == 1
    by_line = {r.line: r.reason for r in report.rejections}
    assert sorted(by_line) == [2, 3, 4, 5, 6]
    assert "not valid JSON" in by_line[2]
    assert "lables" in by_line[3]
    assert "value must be a string" in by_line[4]
    assert "labels" in by_line[6]

    make_bank("L")
    data = f"md5 {md5_of(1)}\njust-one-token\npdq {pdq_of(1)[:-1]}\n"
    report = do_import(db, "L", data, FileFormat.LOCAL_FILE)
    assert report.added == 1
    assert [r.line for r in report.rejections] == [2, 3]
    assert "<signal_type> <value>" in report.rejections[0].reason


def test_an_overlong_line_is_rejected_and_the_next_line_still_read(
    db: Database, make_bank: BankFactory
) -> None:
    make_bank("LONG")
    data = f"md5 {md5_of(1)}\nmd5 {'a' * 5000}\nmd5 {md5_of(2)}\n"
    report = do_import(db, "LONG", data, FileFormat.LOCAL_FILE, max_line_bytes=1000)
    assert report.added == 2
    assert [r.line for r in report.rejections] == [2]
    assert "longer than 1,000 bytes" in report.rejections[0].reason


class _Zeros(stdio.RawIOBase):
    """An endless stream without a newline, like /dev/zero."""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        buffer[:] = b"0" * len(buffer)
        return len(buffer)


def test_an_endless_line_stops_at_the_byte_limit_and_imports_nothing(
    db: Database, make_bank: BankFactory
) -> None:
    bank = make_bank("ENDLESS")
    with db.session() as s, pytest.raises(InvalidInput, match="larger than 100,000 bytes"):
        io.import_entries(
            s,
            "ENDLESS",
            stdio.BufferedReader(_Zeros()),
            FileFormat.LOCAL_FILE,
            actor=SYSTEM,
            limits=io.ImportLimits(max_line_bytes=1000, max_bytes=100_000),
        )
    assert entries_of(db, bank.id) == []


def test_only_the_first_rejections_are_listed_but_all_are_counted(
    db: Database, make_bank: BankFactory
) -> None:
    make_bank("MANY")
    data = "".join(f"md5 nothex{i}\n" for i in range(30))
    report = do_import(db, "MANY", data, FileFormat.LOCAL_FILE, max_reported=5)
    assert report.rejected == 30
    assert [r.line for r in report.rejections] == [1, 2, 3, 4, 5]


# ---- unreadable files ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "data", "message"),
    [
        (FileFormat.CSV, f"md5,{md5_of(1)}\n", "not a CSV header"),
        (FileFormat.CSV, "signal_type,value,lables\n", "unknown column"),
        (FileFormat.CSV, "", "empty"),
        (FileFormat.CSV, HEADER.encode() + b"md5,\xff\xfe\xfa,,,\n", "line 2 is not UTF-8"),
        (FileFormat.LOCAL_FILE, b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
        (FileFormat.LOCAL_FILE, "md5 x\n".encode("utf-16"), "UTF-16"),
        (FileFormat.LOCAL_FILE, b"md5 \x00\x00\x00\n", "NUL byte"),
        (FileFormat.JSONL, json.dumps([{"signal_type": "md5"}]) + "\n", "not an object"),
        (FileFormat.JSONL, "signal_type,value\n", "line 1 is not JSON"),
        (
            FileFormat.JSONL,
            json.dumps({"signal_type": "md5", "value": md5_of(1)}) + "\n42\n",
            "line 2 holds a JSON int",
        ),
    ],
)
def test_unreadable_files_fail_clearly_and_import_nothing(
    db: Database, make_bank: BankFactory, fmt: FileFormat, data: bytes | str, message: str
) -> None:
    make_bank("FATAL")
    before = event_kinds(db)
    with pytest.raises(InvalidInput, match=message) as caught:
        do_import(db, "FATAL", data, fmt)
    assert "nothing" in caught.value.message or "empty" in caught.value.message
    assert entry_count(db) == 0
    assert event_kinds(db) == before


def test_too_many_rejections_stop_the_import_and_keep_nothing(
    db: Database, make_bank: BankFactory
) -> None:
    make_bank("ABORT")
    good = "".join(f"md5 {md5_of(i)}\n" for i in range(50))
    bad = "".join(f"md5 zz{i}\n" for i in range(6))
    with pytest.raises(InvalidInput, match=r"more than 5 lines were rejected.*line 51") as caught:
        do_import(db, "ABORT", good + bad, FileFormat.LOCAL_FILE, max_rejected=5, batch_rows=10)
    assert "nothing" in caught.value.message
    assert entry_count(db) == 0
    assert "bank.imported" not in event_kinds(db)
    # exactly at the limit is still fine
    five_bad = "".join(f"md5 zz{i}\n" for i in range(5))
    report = do_import(
        db, "ABORT", good + five_bad, FileFormat.LOCAL_FILE, max_rejected=5, batch_rows=10
    )
    assert (report.added, report.rejected) == (50, 5)


def test_a_database_failure_midway_keeps_nothing(
    db: Database, make_bank: BankFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_bank("HALF")
    real_insert = repository.insert_entries
    calls = itertools.count()

    def failing_insert(*args: Any, **kwargs: Any) -> list[int]:
        if next(calls) >= 1:
            raise RuntimeError("disk full")
        return real_insert(*args, **kwargs)

    monkeypatch.setattr(repository, "insert_entries", failing_insert)
    data = "".join(f"md5 {md5_of(i)}\n" for i in range(35))
    with pytest.raises(RuntimeError, match="disk full"):
        do_import(db, "HALF", data, FileFormat.LOCAL_FILE, batch_rows=10)
    assert next(calls) >= 2  # the first batch was written before the failure
    assert entry_count(db) == 0
    assert "bank.imported" not in event_kinds(db)


def test_failed_import_in_a_longer_transaction_leaves_earlier_work_and_seq_sane(
    db: Database, make_bank: BankFactory
) -> None:
    """The import is a savepoint: the caller's earlier changes survive, and the sequence
    number the transaction took stays valid for its later changes."""
    bank = make_bank("SAVE")
    with db.session() as s:
        service.add_entries(s, "SAVE", [EntryIn(signal_type="md5", value=md5_of(1))], actor=SYSTEM)
        with pytest.raises(InvalidInput):
            io.import_entries(
                s, "SAVE", stdio.BytesIO(b"\x00"), FileFormat.LOCAL_FILE, actor=SYSTEM
            )
        service.add_entries(s, "SAVE", [EntryIn(signal_type="md5", value=md5_of(2))], actor=SYSTEM)
    rows = entries_of(db, bank.id)
    assert [r.value for r in rows] == [md5_of(1), md5_of(2)]
    assert rows[0].change_seq == rows[1].change_seq


# ---- duplicates, revival, the event --------------------------------------------------------


def test_duplicates_in_the_bank_and_in_the_file_across_batches_and_revival(
    db: Database, make_bank: BankFactory
) -> None:
    bank = make_bank("DUPS")
    with db.session() as s:
        service.add_entries(
            s,
            "DUPS",
            [EntryIn(signal_type="md5", value=md5_of(i)) for i in range(3)],
            actor=SYSTEM,
        )
    removed_id = entries_of(db, bank.id)[0].id
    with db.session() as s:
        service.remove_entry(s, "DUPS", removed_id, actor=SYSTEM)
    data = (
        "".join(f"md5 {md5_of(i)}\n" for i in range(10))  # 0 revived, 1-2 in bank, 3-9 new
        + "".join(f"md5 {md5_of(i)}\n" for i in range(3, 6))  # repeated, in a later batch
        + f"md5 {md5_of(20)}\nmd5 {md5_of(20).upper()}\n"  # repeated within one batch
    )
    report = do_import(db, "DUPS", data, FileFormat.LOCAL_FILE, batch_rows=4)
    assert (report.added, report.duplicates, report.revived, report.rejected) == (8, 6, 1, 0)
    live = entries_of(db, bank.id, include_removed=False)
    assert len(live) == 11
    assert removed_id in {r.id for r in live}


def test_one_event_with_counts_and_never_values(db: Database, make_bank: BankFactory) -> None:
    bank = make_bank("EVT")
    data = f"md5 {md5_of(1)}\nmd5 {md5_of(1)}\nmd5 nope\n"
    do_import(db, "EVT", data, FileFormat.LOCAL_FILE)
    with db.session() as s:
        events = audit_repository.list_events(s, subject=f"bank:{bank.id}")
        assert [e.kind for e in events] == ["bank.imported", "bank.created"]
        assert events[0].payload == {
            "format": "local_file",
            "lines": 3,
            "added": 1,
            "duplicates": 1,
            "revived": 0,
            "rejected": 1,
        }
        assert events[0].principles == [1]


def test_progress_reports_bytes_read_up_to_the_size(db: Database, make_bank: BankFactory) -> None:
    make_bank("PROG")
    data = "".join(f"md5 {md5_of(i)}\n" for i in range(95)).encode()
    seen: list[int] = []
    with db.session() as s:
        io.import_entries(
            s,
            "PROG",
            stdio.BytesIO(data),
            FileFormat.LOCAL_FILE,
            actor=SYSTEM,
            limits=io.ImportLimits(batch_rows=10),
            progress=seen.append,
        )
    assert len(seen) >= 10
    assert seen == sorted(seen)
    assert seen[-1] == len(data)


def test_unknown_bank_is_not_found_before_reading(db: Database) -> None:
    from shieldwall.core.errors import NotFound

    with pytest.raises(NotFound):
        do_import(db, "MISSING", b"md5 x\n", FileFormat.LOCAL_FILE)


@pytest.mark.parametrize(
    ("filename", "fmt"),
    [
        ("a.csv", FileFormat.CSV),
        ("A.JSONL", FileFormat.JSONL),
        ("x.ndjson", FileFormat.JSONL),
        ("hashes.txt", FileFormat.LOCAL_FILE),
    ],
)
def test_format_by_extension(filename: str, fmt: FileFormat) -> None:
    assert io.resolve_format("auto", filename) is fmt
    assert io.resolve_format("csv", filename) is FileFormat.CSV


def test_unknown_extension_or_format_is_refused() -> None:
    with pytest.raises(InvalidInput, match="extension"):
        io.resolve_format("auto", "hashes.bin")
    with pytest.raises(InvalidInput, match="unknown format"):
        io.resolve_format("xml", "hashes.csv")


# ---- export and the round trip -------------------------------------------------------------


def test_export_leaves_out_removed_entries_and_keeps_disabled_ones(
    db: Database, make_bank: BankFactory
) -> None:
    from datetime import timedelta

    from shieldwall.db.base import utcnow

    bank = make_bank("EXP")
    with db.session() as s:
        service.add_entries(
            s,
            "EXP",
            [
                EntryIn(signal_type="md5", value=md5_of(1)),
                EntryIn(signal_type="md5", value=md5_of(2)),
                EntryIn(
                    signal_type="md5", value=md5_of(3), disabled_until=utcnow() + timedelta(days=3)
                ),
            ],
            actor=SYSTEM,
        )
    with db.session() as s:
        service.remove_entry(s, "EXP", entries_of(db, bank.id)[0].id, actor=SYSTEM)
    text = export(db, "EXP", FileFormat.LOCAL_FILE).decode()
    assert text == f"md5 {md5_of(2)}\nmd5 {md5_of(3)}\n"
    csv_text = export(db, "EXP", FileFormat.CSV).decode()
    assert csv_text.splitlines()[0] == HEADER.strip()
    assert len(csv_text.splitlines()) == 3
    jsonl = [json.loads(line) for line in export(db, "EXP", FileFormat.JSONL).splitlines()]
    assert jsonl[0] == {
        "signal_type": "md5",
        "value": md5_of(2),
        "labels": [],
        "source_record_id": None,
        "quality": None,
    }


def test_export_of_an_empty_bank(db: Database, make_bank: BankFactory) -> None:
    make_bank("EMPTY")
    assert export(db, "EMPTY", FileFormat.CSV).decode() == HEADER
    assert export(db, "EMPTY", FileFormat.JSONL) == b""


LABELS = ["A1", "A2", "B1", "B2", "ncmec:x.y-1"]
_counter = itertools.count()

entry_strategy = st.one_of(
    st.builds(
        lambda n, labels, rid, q: EntryIn(
            signal_type="pdq", value=pdq_of(n), labels=labels, source_record_id=rid, quality=q
        ),
        st.integers(0, 10**6),
        st.lists(st.sampled_from(LABELS), unique=True, max_size=3),
        st.one_of(
            st.none(),
            st.text(st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=30)
            .map(str.strip)
            .filter(bool),
        ),
        st.one_of(st.none(), st.integers(0, 100)),
    ),
    st.builds(
        lambda n, kind, labels: EntryIn(
            signal_type=kind,
            value=(sha256_of(n) if kind == "sha256" else md5_of(n)),
            labels=labels,
        ),
        st.integers(0, 10**6),
        st.sampled_from(["md5", "sha256", "video_md5"]),
        st.lists(st.sampled_from(LABELS), unique=True, max_size=2),
    ),
    st.builds(
        lambda n, frames, rid: EntryIn(
            signal_type="vpdq", value=vpdq_of(n, frames), source_record_id=rid
        ),
        st.integers(0, 10**6),
        st.integers(1, 5),
        st.one_of(st.none(), st.just('video,with "quotes"')),
    ),
)


def _snapshot(db: Database, bank_id: int, full: bool) -> set[tuple[Any, ...]]:
    rows = entries_of(db, bank_id, include_removed=False)
    if not full:
        return {(r.signal_type, r.value) for r in rows}
    return {(r.signal_type, r.value, tuple(r.labels), r.source_record_id, r.quality) for r in rows}


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(entries=st.lists(entry_strategy, min_size=0, max_size=30), fmt=st.sampled_from(FileFormat))
def test_import_of_export_gives_back_the_same_entries(
    db: Database, entries: list[EntryIn], fmt: FileFormat
) -> None:
    n = next(_counter)
    source, target = f"SRC_{n}", f"DST_{n}"
    with db.session() as s:
        src = service.create_bank(s, BankCreate(name=source), actor=SYSTEM)
        dst = service.create_bank(s, BankCreate(name=target), actor=SYSTEM)
        if entries:
            service.add_entries(s, source, entries, actor=SYSTEM)
        src_id, dst_id = src.id, dst.id
    data = export(db, source, fmt, batch=7)
    report = do_import(db, target, data, fmt, batch_rows=5)
    assert report.rejected == 0, report.rejections
    full = fmt is not FileFormat.LOCAL_FILE
    assert _snapshot(db, dst_id, full) == _snapshot(db, src_id, full)
    assert report.added == len(_snapshot(db, src_id, full=False))


def test_a_jsonl_line_nested_too_deeply_is_rejected_and_the_rest_imported(
    db: Database, make_bank: BankFactory
) -> None:
    make_bank("DEEP")
    good = [json.dumps({"signal_type": "md5", "value": md5_of(i)}) for i in range(2)]
    data = good[0] + "\n" + "[" * 100_000 + "]" * 100_000 + "\n" + good[1] + "\n"
    report = do_import(db, "DEEP", data, FileFormat.JSONL)
    assert report.added == 2
    assert [r.line for r in report.rejections] == [2]
    assert "nested too deeply" in report.rejections[0].reason


@pytest.mark.parametrize("quality", ["²", "①", "٣", "9" * 5000, "1000", "-1"])
def test_a_csv_quality_that_is_no_ascii_number_0_to_100_is_rejected(
    db: Database, make_bank: BankFactory, quality: str
) -> None:
    """``str.isdigit()`` is true of "²", "①" and Arabic-Indic digits (int() refuses the first
    two), and 5,000 nines is past int()'s digit limit: each used to stop the import with
    a ValueError (HTTP 500)."""
    make_bank("QUAL")
    data = f"{HEADER}pdq,{pdq_of(1)},,,{quality}\nmd5,{md5_of(1)},,,\n"
    report = do_import(db, "QUAL", data, FileFormat.CSV)
    assert (report.added, report.rejected) == (1, 1)
    assert report.rejections[0].line == 2
    assert report.rejections[0].reason.startswith("quality must be a whole number 0-100")
    assert len(report.rejections[0].reason) < 100


def test_a_json_quality_out_of_range_is_rejected_without_quoting_a_long_number(
    db: Database, make_bank: BankFactory
) -> None:
    make_bank("QJSON")
    lines = [
        {"signal_type": "pdq", "value": pdq_of(1), "quality": 10**4000},
        {"signal_type": "pdq", "value": pdq_of(2), "quality": 101},
        {"signal_type": "pdq", "value": pdq_of(3), "quality": 100},
    ]
    data = "".join(json.dumps(line) + "\n" for line in lines)
    report = do_import(db, "QJSON", data, FileFormat.JSONL)
    assert (report.added, report.rejected) == (1, 2)
    reasons = [r.reason for r in report.rejections]
    assert reasons == [
        "quality must be a whole number 0-100",
        "quality must be a whole number 0-100, got 101",
    ]


def test_a_jsonl_number_past_the_digit_limit_is_a_rejected_line(
    db: Database, make_bank: BankFactory
) -> None:
    """A 5,000-digit integer makes json.loads raise a plain ValueError (int()'s 4,300-digit
    limit), not a JSONDecodeError: it used to escape the reader (HTTP 500)."""
    make_bank("DIGITS")
    good = json.dumps({"signal_type": "md5", "value": md5_of(1)})
    long_number = '{"signal_type": "pdq", "value": "x", "quality": ' + "9" * 5000 + "}"
    report = do_import(db, "DIGITS", f"{good}\n{long_number}\n", FileFormat.JSONL)
    assert (report.added, report.rejected) == (1, 1)
    assert report.rejections[0].line == 2
    assert "more than 4,300 digits" in report.rejections[0].reason
    # as the first line: not a JSON Lines file at all, said as such
    with pytest.raises(InvalidInput, match=r"line 1 is not JSON .*4,300 digits"):
        do_import(db, "DIGITS", "9" * 5000 + "\n", FileFormat.JSONL)


@pytest.mark.parametrize("record_id", ["x\ud800", "\udfff", "a\u0085b", "tab\there"])
def test_a_source_record_id_with_a_lone_surrogate_or_control_character_is_rejected(
    db: Database, make_bank: BankFactory, record_id: str
) -> None:
    """JSON's "\\ud800" escape reads as a lone surrogate, which no database can store: the
    insert failed (UnicodeEncodeError, HTTP 500). The line is rejected; the rest imported."""
    bank = make_bank("SURR")
    lines = [
        {"signal_type": "md5", "value": md5_of(1), "source_record_id": "ok-1"},
        {"signal_type": "md5", "value": md5_of(2), "source_record_id": record_id},
        {"signal_type": "md5", "value": md5_of(3)},
    ]
    data = "".join(json.dumps(line) + "\n" for line in lines)  # ensure_ascii: \ud800 escapes
    report = do_import(db, "SURR", data, FileFormat.JSONL)
    assert (report.added, report.rejected) == (2, 1)
    assert report.rejections[0].line == 2
    assert "source_record_id must not contain control characters" in report.rejections[0].reason
    assert {r.value for r in entries_of(db, bank.id)} == {md5_of(1), md5_of(3)}


def test_a_label_with_a_trailing_line_break_is_rejected(
    db: Database, make_bank: BankFactory
) -> None:
    """The label pattern ends in ``$``, which re.match lets match before a final "\\n"."""
    make_bank("LBL")
    line = {"signal_type": "md5", "value": md5_of(1), "labels": ["A1\n"]}
    report = do_import(db, "LBL", json.dumps(line) + "\n", FileFormat.JSONL)
    assert (report.added, report.rejected) == (0, 1)
    assert "malformed" in report.rejections[0].reason
