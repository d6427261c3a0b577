"""Decisions: guards, the two-person rule, hash-on-confirm, actions, hooks, notes at rest."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from shieldwall.actions.models import Action
from shieldwall.audit.models import Event
from shieldwall.banks.models import Bank, BankEntry
from shieldwall.cases import service
from shieldwall.cases.models import Case, CaseDecision
from shieldwall.cases.schemas import (
    MAX_NOTE,
    CaseSource,
    CaseStatus,
    DecisionState,
    Outcome,
    SignalIn,
)
from shieldwall.config import Settings
from shieldwall.core.errors import Conflict, InvalidInput, PermissionDenied
from shieldwall.db.engine import Database
from shieldwall.users.models import User
from tests.cases.conftest import OpenCase, md5_of, pdq_of, principal

pytestmark = pytest.mark.db


def decide(
    db: Database,
    settings: Settings,
    case_id: int,
    user: User,
    outcome: Outcome,
    label: str | None = None,
    note: str = "",
) -> Case:
    with db.session() as s:
        case = service.decide(
            s, settings, case_id, outcome=outcome, label=label, note=note, actor=principal(user)
        )
        s.flush()
        s.expunge(case)
        return case


def confirm(
    db: Database,
    settings: Settings,
    case_id: int,
    user: User,
    *,
    agree: bool = True,
    note: str = "",
) -> Case:
    with db.session() as s:
        case = service.confirm(s, settings, case_id, agree=agree, note=note, actor=principal(user))
        s.flush()
        s.expunge(case)
        return case


def actions_of(db: Database, case_id: int) -> list[tuple[str, str, str]]:
    with db.session() as s:
        rows = s.scalars(select(Action).where(Action.case_id == case_id).order_by(Action.id))
        return [(a.type, a.subject_kind, a.subject_ref) for a in rows]


def kinds(db: Database, case_id: int) -> list[str]:
    """The case's own events (other capabilities' hooks may add theirs, e.g. reporting)."""
    with db.session() as s:
        return list(
            s.scalars(
                select(Event.kind)
                .where(Event.subject == f"case:{case_id}", Event.kind.startswith("case."))
                .order_by(Event.id)
            )
        )


def test_violating_decides_and_asks_the_platform_to_remove(
    db: Database, settings: Settings, open_case: OpenCase, rita: User
) -> None:
    case = open_case()
    done = decide(db, settings, case.id, rita, Outcome.VIOLATING, "A1", "clear match")
    assert done.status == CaseStatus.DECIDED
    assert (done.outcome, done.label, done.decided_by) == ("violating", "A1", f"user:{rita.id}")
    assert done.active_key is None
    assert done.decided_at is not None
    assert done.first_reviewed_at is not None
    assert actions_of(db, case.id) == [("content.remove", "content", "post-1")]
    assert kinds(db, case.id) == ["case.opened", "case.decided"]
    # deciding again is refused, and asks nothing more of the platform
    with pytest.raises(Conflict, match="already decided"):
        decide(db, settings, case.id, rita, Outcome.NOT_VIOLATING)
    assert len(actions_of(db, case.id)) == 1


def test_not_violating_sends_nothing(
    db: Database, settings: Settings, open_case: OpenCase, rita: User
) -> None:
    case = open_case()
    done = decide(db, settings, case.id, rita, Outcome.NOT_VIOLATING)
    assert (done.status, done.outcome, done.label) == ("decided", "not_violating", None)
    assert actions_of(db, case.id) == []


def test_escalate_keeps_the_case_active_and_raises_its_priority(
    db: Database, settings: Settings, open_case: OpenCase, rita: User, sam: User
) -> None:
    case = open_case(
        signal=SignalIn(
            source=CaseSource.CLASSIFIER,
            principles=[2],
            summary={"classifier": "stand-in"},
            score=0.5,
        )
    )
    assert case.priority == 350
    up = decide(db, settings, case.id, rita, Outcome.ESCALATE, note="need a second look")
    assert up.status == CaseStatus.ESCALATED
    assert up.active_key == "content:post-1"
    assert (up.priority, up.priority_rule) == (750, "escalated")
    done = decide(db, settings, case.id, sam, Outcome.NOT_VIOLATING)
    assert done.status == CaseStatus.DECIDED
    assert kinds(db, case.id) == ["case.opened", "case.escalated", "case.decided"]


@pytest.mark.parametrize(
    ("outcome", "label", "note", "error", "message"),
    [
        (Outcome.VIOLATING, None, "", InvalidInput, "needs a label; known labels: A1, A2"),
        (Outcome.VIOLATING, "C9", "", InvalidInput, "unknown label 'C9'; known labels: A1"),
        (Outcome.NOT_VIOLATING, "A1", "", InvalidInput, "violating decision only"),
        (Outcome.VIOLATING, "A1", "x" * (MAX_NOTE + 1), InvalidInput, "limited to 4000"),
        (Outcome.VIOLATING, "A1", "a\x00b", InvalidInput, "NUL"),
    ],
)
def test_bad_decisions_change_nothing(
    db: Database,
    settings: Settings,
    open_case: OpenCase,
    rita: User,
    outcome: Outcome,
    label: str | None,
    note: str,
    error: type[Exception],
    message: str,
) -> None:
    case = open_case()
    with pytest.raises(error, match=message):
        decide(db, settings, case.id, rita, outcome, label, note)
    with db.session() as s:
        row = s.get(Case, case.id)
        assert row is not None
        assert row.status == CaseStatus.OPEN
        assert s.scalars(select(CaseDecision)).all() == []
    assert kinds(db, case.id) == ["case.opened"]


def test_only_case_writers_decide(
    db: Database, settings: Settings, open_case: OpenCase, ann: User
) -> None:
    case = open_case()
    with pytest.raises(PermissionDenied, match="cases:write"):
        decide(db, settings, case.id, ann, Outcome.NOT_VIOLATING)


def test_closed_cases_cannot_be_decided(
    db: Database, settings: Settings, open_case: OpenCase, rita: User
) -> None:
    case = open_case()
    decide(db, settings, case.id, rita, Outcome.NOT_VIOLATING)
    with db.session() as s:
        closed = service.close(s, case.id, actor=principal(rita))
        assert closed.status == CaseStatus.CLOSED
        assert closed.closed_at is not None
    with pytest.raises(Conflict, match="already closed"):
        decide(db, settings, case.id, rita, Outcome.VIOLATING, "A1")
    with db.session() as s, pytest.raises(Conflict, match="only decided cases"):
        service.close(s, case.id, actor=principal(rita))


def test_notes_are_sealed_at_rest(
    db: Database, settings: Settings, open_case: OpenCase, rita: User
) -> None:
    case = open_case()
    decide(db, settings, case.id, rita, Outcome.VIOLATING, "B2", "looks like the known item")
    with db.session() as s:
        raw = s.execute(text("SELECT note_sealed FROM case_decisions")).scalar_one()
        assert b"known item" not in bytes(raw)
        detail = service.case_detail(s, settings, service.get_case(s, case.id))
    assert detail.decisions[0].note == "looks like the known item"
    with db.session() as s:
        event = s.scalars(select(Event).where(Event.kind == "case.decided")).one()
        assert "known item" not in str(event.payload)


# ---- two-person rule ---------------------------------------------------------------------------


@pytest.fixture
def two_person(settings: Settings) -> Settings:
    return settings.model_copy(update={"case_two_person_labels": ["A1"]})


def test_two_person_rule_waits_for_a_different_reviewer(
    db: Database, two_person: Settings, open_case: OpenCase, rita: User, sam: User
) -> None:
    case = open_case()
    proposed = decide(db, two_person, case.id, rita, Outcome.VIOLATING, "A1", "first look")
    assert proposed.status == CaseStatus.IN_REVIEW
    assert actions_of(db, case.id) == []  # nothing happens before the second reviewer
    with db.session() as s:
        assert service.is_awaiting_confirmation(service.get_case(s, case.id))
        page = service.queue(s)
        assert page.items[0].awaiting_confirmation is True
    with pytest.raises(Conflict, match="awaiting a second reviewer"):
        decide(db, two_person, case.id, sam, Outcome.NOT_VIOLATING)
    with pytest.raises(PermissionDenied, match="someone else must confirm"):
        confirm(db, two_person, case.id, rita)
    done = confirm(db, two_person, case.id, sam, note="agreed")
    assert done.status == CaseStatus.DECIDED
    assert (done.outcome, done.label, done.decided_by) == ("violating", "A1", f"user:{rita.id}")
    assert actions_of(db, case.id) == [("content.remove", "content", "post-1")]
    assert kinds(db, case.id) == ["case.opened", "case.decision_proposed", "case.decided"]
    with db.session() as s:
        decision = s.scalars(select(CaseDecision)).one()
        assert decision.state == DecisionState.FINAL
        assert decision.confirmed_by == f"user:{sam.id}"
        assert (
            service.case_detail(s, two_person, service.get_case(s, case.id))
            .decisions[0]
            .confirm_note
            == "agreed"
        )
    with pytest.raises(Conflict, match="no decision awaiting"):
        confirm(db, two_person, case.id, sam)


def test_labels_outside_the_rule_are_final_at_once(
    db: Database, two_person: Settings, open_case: OpenCase, rita: User
) -> None:
    case = open_case()
    assert decide(db, two_person, case.id, rita, Outcome.VIOLATING, "B1").status == "decided"


def test_a_disagreeing_second_reviewer_escalates(
    db: Database, two_person: Settings, open_case: OpenCase, rita: User, sam: User, tess: User
) -> None:
    case = open_case()
    decide(db, two_person, case.id, rita, Outcome.VIOLATING, "A1")
    escalated = confirm(db, two_person, case.id, sam, agree=False, note="not sure")
    assert escalated.status == CaseStatus.ESCALATED
    assert actions_of(db, case.id) == []
    done = decide(db, two_person, case.id, tess, Outcome.NOT_VIOLATING)
    assert done.status == CaseStatus.DECIDED
    assert kinds(db, case.id)[-2:] == ["case.decision_rejected", "case.decided"]


def test_confirmer_needs_case_write(
    db: Database, two_person: Settings, open_case: OpenCase, rita: User, ann: User
) -> None:
    case = open_case()
    decide(db, two_person, case.id, rita, Outcome.VIOLATING, "A1")
    with pytest.raises(PermissionDenied, match="cases:write"):
        confirm(db, two_person, case.id, ann)


# ---- hash-on-confirm and account suspension --------------------------------------------------


@pytest.fixture
def confirming(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"case_confirm_bank": "CONFIRMED", "case_suspend_labels": ["A1"]}
    )


def bank_entries(db: Database, name: str) -> list[BankEntry]:
    with db.session() as s:
        bank = s.scalars(select(Bank).where(Bank.name == name)).one()
        rows = list(
            s.scalars(select(BankEntry).where(BankEntry.bank_id == bank.id).order_by(BankEntry.id))
        )
        s.expunge_all()
        return rows


def test_hash_on_confirm_adds_the_media_hashes_with_provenance(
    db: Database, confirming: Settings, open_case: OpenCase, rita: User
) -> None:
    case = open_case(settings_=confirming)
    survivor = SignalIn(
        source=CaseSource.SURVIVOR_REQUEST,
        principles=[8],
        summary={"takedown_request_id": 3},
        hashes=[("md5", md5_of(99))],
        ref="takedown_request:3",
    )
    open_case(signal=survivor, settings_=confirming)
    decide(db, confirming, case.id, rita, Outcome.VIOLATING, "A1")
    entries = bank_entries(db, "CONFIRMED")
    assert sorted((e.signal_type, e.value) for e in entries) == sorted(
        [("md5", md5_of(1)), ("pdq", pdq_of(1))]
    )  # the survivor's hash is banked by its own hook, not here
    assert {(e.source, e.source_record_id) for e in entries} == {("case", f"case:{case.id}")}
    assert all(e.labels == ["A1"] for e in entries)
    with db.session() as s:
        decision = s.scalars(select(CaseDecision)).one()
        assert decision.bank == "CONFIRMED"
        assert sorted(decision.bank_entry_ids) == sorted(e.id for e in entries)
    assert actions_of(db, case.id) == [
        ("content.remove", "content", "post-1"),
        ("account.suspend", "account", "acct-1"),
    ]


def test_hash_on_confirm_leaves_entries_it_did_not_add(
    db: Database, confirming: Settings, open_case: OpenCase, rita: User, sam: User
) -> None:
    first = open_case("post-1", settings_=confirming)
    decide(db, confirming, first.id, rita, Outcome.VIOLATING, "B2")
    again = open_case("post-2", settings_=confirming)  # the same hashes, re-uploaded
    decide(db, confirming, again.id, sam, Outcome.VIOLATING, "B2")
    with db.session() as s:
        second = s.scalars(select(CaseDecision).where(CaseDecision.case_id == again.id)).one()
        assert second.bank_entry_ids == []  # duplicates are not its to remove later
    assert actions_of(db, again.id) == [("content.remove", "content", "post-2")]  # B2: no suspend


# ---- hooks ---------------------------------------------------------------------------------


@pytest.fixture
def clean_hooks() -> Iterator[None]:
    saved = {k: list(v) for k, v in service._hooks.items()}
    yield
    service._hooks.clear()
    service._hooks.update(saved)


def test_decision_hooks_run_once_final(
    db: Database,
    two_person: Settings,
    open_case: OpenCase,
    rita: User,
    sam: User,
    clean_hooks: None,
) -> None:
    seen: list[tuple[int, str | None]] = []

    def hook(session: Session, settings: Settings, case: Case, actor: object) -> None:
        seen.append((case.id, case.outcome))

    service.register_decision_hook(CaseSource.HASH_MATCH, hook)
    service.register_decision_hook(CaseSource.HASH_MATCH, hook)  # twice: still once
    service.register_decision_hook(CaseSource.USER_REPORT, lambda *a: seen.append((0, "x")))
    case = open_case()
    decide(db, two_person, case.id, rita, Outcome.VIOLATING, "A1")
    assert seen == []
    confirm(db, two_person, case.id, sam)
    assert seen == [(case.id, "violating")]


def test_a_failing_hook_undoes_the_decision(
    db: Database, settings: Settings, open_case: OpenCase, rita: User, clean_hooks: None
) -> None:
    def hook(*_: object) -> None:
        raise RuntimeError("the survivor bank is unreachable")

    service.register_decision_hook(CaseSource.HASH_MATCH, hook)
    case = open_case()
    with pytest.raises(RuntimeError):
        decide(db, settings, case.id, rita, Outcome.VIOLATING, "A1")
    with db.session() as s:
        row = s.get(Case, case.id)
        assert row is not None
        assert row.status == CaseStatus.OPEN
    assert actions_of(db, case.id) == []


def test_every_hook_module_registers_when_a_decision_is_finalised_alone() -> None:
    """In a fresh process that imports only the cases service (a job, a script), loading the
    hook modules registers every domain's decision hooks, the conversation release too."""
    import subprocess
    import sys

    code = (
        "from shieldwall.cases import service as s\n"
        "from shieldwall.cases.schemas import CaseSource\n"
        "s._load_hook_modules()\n"
        "names = {h.__module__ for hooks in s._hooks.values() for h in hooks}\n"
        "print(sorted(names))\n"
        "print(any(h.__name__ == 'release_on_decision' "
        "for h in s._hooks.get(CaseSource.GROOMING, [])))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    modules, released = done.stdout.strip().splitlines()
    assert released == "True"
    for module in ("shieldwall.textsignals.conversations", "shieldwall.reporting.hooks"):
        assert module in modules
