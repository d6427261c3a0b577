"""Signals into cases: one active case per subject, priorities, bad input (SQLite and PG)."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shieldwall.audit.models import Event
from shieldwall.cases import repository, service
from shieldwall.cases.models import Case, CaseSignal
from shieldwall.cases.schemas import CaseSource, CaseStatus, SignalIn, Subject
from shieldwall.config import Settings
from shieldwall.core.errors import InvalidInput
from shieldwall.db.engine import Database
from tests.cases.conftest import OpenCase, match_signal, md5_of
from tests.conftest import SYSTEM

pytestmark = pytest.mark.db


def events(db: Database, subject: str) -> list[Event]:
    with db.session() as s:
        rows = list(s.scalars(select(Event).where(Event.subject == subject).order_by(Event.id)))
        s.expunge_all()
        return rows


def test_first_signal_opens_a_case_and_later_ones_join_it(
    db: Database, settings: Settings, open_case: OpenCase
) -> None:
    first = open_case("post-1", signal=match_signal(1, labels=("B2",)))
    assert first.status == CaseStatus.OPEN
    assert (first.subject_kind, first.subject_ref, first.account_ref) == (
        "content",
        "post-1",
        "acct-1",
    )
    assert first.sources == ["hash_match"]
    assert first.labels == ["B2"]
    assert first.signal_count == 1
    assert first.priority_rule == "bank_match_classified"
    report = SignalIn(
        source=CaseSource.USER_REPORT,
        principles=[8],
        summary={"user_report_id": 7},
        labels=["child_sexual_exploitation"],
        child_in_danger=True,
        ref="user_report:7",
    )
    second = open_case("post-1", signal=report)
    assert second.id == first.id
    assert second.sources == ["hash_match", "user_report"]
    assert second.signal_count == 2
    assert second.child_in_danger is True
    assert (second.priority, second.priority_rule) == (1000, "child_in_danger")
    assert second.due_at is not None
    assert first.due_at is not None
    assert second.due_at < first.due_at  # 1 hour instead of 8
    kinds = [e.kind for e in events(db, f"case:{first.id}")]
    assert kinds == ["case.opened", "case.signal_added"]
    opened = events(db, f"case:{first.id}")[0]
    assert opened.principles == [1]
    assert "post-1" not in str(opened.payload)  # ids only: no platform references in events
    assert md5_of(1) not in str(opened.payload)  # never hashes


def test_same_ref_twice_adds_nothing(db: Database, open_case: OpenCase) -> None:
    case = open_case("post-2", signal=match_signal(5))
    again = open_case("post-2", signal=match_signal(5))
    assert again.id == case.id
    assert again.signal_count == 1
    assert len(events(db, f"case:{case.id}")) == 1


def test_subjects_are_separate_by_kind_and_ref(open_case: OpenCase) -> None:
    a = open_case("x-1")
    b = open_case("x-1", kind="account")
    c = open_case("x-2")
    assert len({a.id, b.id, c.id}) == 3


def test_a_decided_case_is_not_joined(
    db: Database, settings: Settings, open_case: OpenCase
) -> None:
    case = open_case("post-3")
    with db.session() as s:
        row = s.get(Case, case.id)
        assert row is not None
        row.status, row.active_key = CaseStatus.DECIDED.value, None
    fresh = open_case("post-3", signal=match_signal(9))
    assert fresh.id != case.id
    assert fresh.status == CaseStatus.OPEN


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"principles": [12]}, "principle"),
        ({"score": 1.5}, "between 0 and 1"),
        ({"score": float("nan")}, "between 0 and 1"),
        ({"labels": ["bad label!"]}, "labels"),
        ({"hashes": [("md5", "xyz")]}, "md5"),
        ({"hashes": [("photodna", "00")]}, "unknown signal type"),
        ({"summary": {"blob": "x" * 5000}}, "4096 bytes"),
        ({"summary": {"when": object()}}, "plain JSON"),
        ({"ref": "a\nb"}, "control, format"),
    ],
)
def test_bad_signals_write_nothing(
    db: Database, settings: Settings, change: dict[str, object], message: str
) -> None:
    signal = match_signal(1)
    for key, value in change.items():
        setattr(signal, key, value)
    with db.session() as s, pytest.raises(InvalidInput, match=message):
        service.attach_signal(
            s, settings, subject=Subject("content", "p"), signal=signal, actor=SYSTEM
        )
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Case)) == 0


@pytest.mark.parametrize(
    ("kind", "ref", "message"),
    [
        ("post", "p-1", "unknown subject kind"),
        ("content", "  ", "must not be empty"),
        ("content", "x" * 201, "longer than 200"),
    ],
)
def test_bad_subjects(kind: str, ref: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        Subject(kind, ref)


def test_lost_insert_race_joins_the_winner(
    db: Database, settings: Settings, open_case: OpenCase, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process committed the subject's case between our look-up and our insert: the
    unique active key refuses our row and we join theirs."""
    winner = open_case("post-race")
    real = repository.active_case
    calls = {"n": 0}

    def stale_first_read(session: Session, key: str, *, for_update: bool = False) -> Case | None:
        calls["n"] += 1
        return None if calls["n"] == 1 else real(session, key, for_update=for_update)

    monkeypatch.setattr(repository, "active_case", stale_first_read)
    joined = open_case("post-race", signal=match_signal(2))
    assert joined.id == winner.id
    assert joined.signal_count == 2
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Case)) == 1


def test_concurrent_signals_make_one_case(db: Database, settings: Settings) -> None:
    """Eight threads, each its own transaction, report the same subject at once."""
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def report(n: int) -> None:
        try:
            barrier.wait(timeout=10)
            with db.session() as s:
                service.attach_signal(
                    s,
                    settings,
                    subject=Subject("content", "hot-post"),
                    signal=match_signal(n),
                    actor=SYSTEM,
                )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=report, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    with db.session() as s:
        cases = list(s.scalars(select(Case)))
        assert len(cases) == 1
        assert cases[0].signal_count == 8
        assert s.scalar(select(func.count()).select_from(CaseSignal)) == 8
