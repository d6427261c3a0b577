"""The hash chain: written in order, and every kind of tampering is named."""

from __future__ import annotations

import itertools
import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError

from shieldwall.audit import service as audit
from shieldwall.audit.chain import GENESIS_HASH, event_digest
from shieldwall.audit.models import Event
from shieldwall.db.engine import Database
from tests.conftest import mark_schema_dirty


def write(db: Database, n: int, kind: str = "test.happened") -> None:
    for i in range(n):
        with db.session() as s:
            audit.record(s, kind, actor="system:tests", subject=f"thing:{i}",
                         principles=[1, 11], payload={"i": i, "ratio": 0.1, "name": "ü"})


def drop_guards(db: Database) -> None:
    """What an attacker with database access would do first."""
    mark_schema_dirty()
    with db.engine.begin() as conn:
        if db.dialect == "postgresql":
            conn.execute(text("DROP TRIGGER events_append_only ON events"))
        else:
            conn.execute(text("DROP TRIGGER events_no_update"))
            conn.execute(text("DROP TRIGGER events_no_delete"))


def verify(db: Database) -> audit.ChainReport:
    with db.session() as s:
        return audit.verify_chain(s)


def test_empty_chain_is_valid(db: Database) -> None:
    report = verify(db)
    assert report.ok
    assert report.checked == 0
    assert report.head_hash == GENESIS_HASH


def test_each_event_links_to_the_one_before(db: Database) -> None:
    write(db, 5)
    with db.session() as s:
        events = s.query(Event).order_by(Event.id).all()
    assert [e.id for e in events] == [1, 2, 3, 4, 5]
    assert events[0].prev_hash == GENESIS_HASH
    for before, after in itertools.pairwise(events):
        assert after.prev_hash == before.hash
    e = events[2]
    assert e.hash == event_digest(
        event_id=e.id, occurred_at=e.occurred_at, actor=e.actor, kind=e.kind,
        subject=e.subject, principles=e.principles, payload=e.payload, prev_hash=e.prev_hash,
    )
    report = verify(db)
    assert report.ok
    assert report.checked == 5
    assert report.head_hash == events[-1].hash


@pytest.mark.parametrize(("column", "value"), [
    ("payload", '{"i": 99}'),
    ("kind", "'test.changed'"),
    ("actor", "'user:666'"),
    ("principles", "'[2]'"),
])
def test_edited_row_is_named(db: Database, column: str, value: str) -> None:
    write(db, 4)
    drop_guards(db)
    with db.engine.begin() as conn:
        if column == "payload" and db.dialect == "postgresql":
            value = "'{\"i\": 99}'::jsonb"
        elif column == "payload":
            value = "'{\"i\": 99}'"
        elif column == "principles" and db.dialect == "postgresql":
            value = "'[2]'::jsonb"
        conn.execute(text(f"UPDATE events SET {column} = {value} WHERE id = 3"))
    report = verify(db)
    assert not report.ok
    assert report.first_bad_id == 3
    assert "changed" in (report.reason or "")


def test_edited_time_is_named(db: Database) -> None:
    write(db, 3)
    drop_guards(db)
    with db.session() as s:
        s.execute(text("UPDATE events SET occurred_at = :t WHERE id = 2"),
                  {"t": datetime(2020, 1, 1, tzinfo=UTC) if db.dialect == "postgresql"
                   else "2020-01-01 00:00:00.000000"})
    report = verify(db)
    assert (report.ok, report.first_bad_id) == (False, 2)


def test_deleted_middle_row_is_named(db: Database) -> None:
    write(db, 5)
    drop_guards(db)
    with db.engine.begin() as conn:
        conn.execute(text("DELETE FROM events WHERE id = 3"))
    report = verify(db)
    assert not report.ok
    assert report.first_bad_id == 4
    assert "3..3" in (report.reason or "")


def test_deleted_newest_rows_are_detected_through_the_head(db: Database) -> None:
    write(db, 5)
    drop_guards(db)
    with db.engine.begin() as conn:
        conn.execute(text("DELETE FROM events WHERE id >= 4"))
    report = verify(db)
    assert not report.ok
    assert report.first_bad_id == 4
    assert "deleted" in (report.reason or "")


def test_rewritten_row_with_recomputed_hash_breaks_the_next_link(db: Database) -> None:
    write(db, 4)
    drop_guards(db)
    with db.session() as s:
        e = s.get(Event, 2)
        assert e is not None
        forged = event_digest(
            event_id=2, occurred_at=e.occurred_at, actor="user:666", kind=e.kind,
            subject=e.subject, principles=e.principles, payload=e.payload,
            prev_hash=e.prev_hash,
        )
        s.execute(text("UPDATE events SET actor = 'user:666', hash = :h WHERE id = 2"),
                  {"h": forged})
    report = verify(db)
    assert (report.ok, report.first_bad_id) == (False, 3)
    assert "does not link" in (report.reason or "")


@pytest.mark.parametrize("statement", [
    "UPDATE events SET kind = 'x.y' WHERE id = 1",
    "DELETE FROM events WHERE id = 1",
])
def test_database_refuses_update_and_delete(db: Database, statement: str) -> None:
    write(db, 1)
    with pytest.raises((DBAPIError, IntegrityError), match="append-only"), \
            db.engine.begin() as conn:
        conn.execute(text(statement))
    assert verify(db).ok


def test_bad_events_are_refused_and_nothing_is_written(db: Database) -> None:
    with db.session() as s:
        with pytest.raises(ValueError, match=r"domain\.verb"):
            audit.record(s, "NoDot", actor="system:tests")
        with pytest.raises(ValueError, match="1-11"):
            audit.record(s, "test.bad", actor="system:tests", principles=[12])
        with pytest.raises(ValueError, match="plain JSON"):
            audit.record(s, "test.bad", actor="system:tests", payload={"x": float("nan")})
        with pytest.raises(ValueError, match="plain JSON"):
            audit.record(s, "test.bad", actor="system:tests", payload={"x": {1, 2}})
    report = verify(db)
    assert report.ok
    assert report.checked == 0


def test_rolled_back_event_leaves_no_gap(db: Database) -> None:
    write(db, 2)
    def failing_change() -> None:
        with db.session() as s:
            audit.record(s, "test.happened", actor="system:tests")
            raise RuntimeError("the change this event describes failed")

    with pytest.raises(RuntimeError):
        failing_change()
    write(db, 1)
    report = verify(db)
    assert report.ok
    assert report.checked == 3


def test_concurrent_writers_keep_one_unbroken_chain(db: Database) -> None:
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(10):
                with db.session() as s:
                    audit.record(s, "test.concurrent", actor=f"system:w{n}",
                                 payload={"i": i})
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    report = verify(db)
    assert report.ok, report.reason
    assert report.checked == 40


def test_anchor_detects_a_chain_rewritten_from_the_start(db: Database) -> None:
    write(db, 3)
    anchor = verify(db).head_hash
    write(db, 2)
    with db.session() as s:
        assert audit.verify_chain(s, anchors=[anchor]).ok
    # Rewrite everything consistently: same rows, recomputed digests, new head.
    drop_guards(db)
    with db.engine.begin() as conn:
        conn.execute(text("DELETE FROM events"))
        conn.execute(text(
            "UPDATE event_chain_head SET last_event_id = 0, last_hash = :g, count = 0"
        ), {"g": GENESIS_HASH})
    write(db, 5, kind="test.forged")
    with db.session() as s:
        assert audit.verify_chain(s).ok  # consistent with itself...
        report = audit.verify_chain(s, anchors=[anchor])
    assert not report.ok  # ...but the anchored hash is gone
    assert report.anchors_missing == (anchor,)
