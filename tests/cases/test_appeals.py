"""Appeals: a different reviewer decides; upheld appeals restore content and unbank hashes."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from shieldwall.actions.models import Action
from shieldwall.audit.models import Event
from shieldwall.banks.models import BankEntry
from shieldwall.cases import appeals, service
from shieldwall.cases.models import Case
from shieldwall.cases.schemas import CaseSource, CaseStatus, Outcome
from shieldwall.config import Settings
from shieldwall.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from shieldwall.db.engine import Database
from shieldwall.users.models import User
from tests.cases.conftest import OpenCase
from tests.cases.test_decisions import confirm, decide
from tests.conftest import SYSTEM

pytestmark = pytest.mark.db


@pytest.fixture
def confirming(settings: Settings) -> Settings:
    return settings.model_copy(update={"case_confirm_bank": "CONFIRMED"})


def appeal(db: Database, settings: Settings, **named: object) -> tuple[Case, bool]:
    with db.session() as s:
        case, created = appeals.open_appeal(s, settings, actor=SYSTEM, **named)  # type: ignore[arg-type]
        s.flush()
        s.expunge(case)
        return case, created


def remove_action_id(db: Database, case_id: int) -> int:
    with db.session() as s:
        return s.scalars(
            select(Action.id).where(Action.case_id == case_id, Action.type == "content.remove")
        ).one()


def test_upheld_appeal_restores_and_unbanks(
    db: Database, confirming: Settings, open_case: OpenCase, rita: User, sam: User
) -> None:
    original = open_case(settings_=confirming)
    decide(db, confirming, original.id, rita, Outcome.VIOLATING, "A2")
    action_id = remove_action_id(db, original.id)
    case, created = appeal(
        db, confirming, action_id=action_id, appeal_ref="ap-1", reason="user_disputes"
    )
    assert created is True
    assert case.id != original.id
    assert case.appeal_of_case_id == original.id
    assert (case.sources, case.priority_rule, case.status) == (["appeal"], "appeal", "open")
    assert (case.subject_kind, case.subject_ref) == ("content", "post-1")
    # the same appeal again joins it; another appeal of the same case too
    again, created_again = appeal(db, confirming, action_id=action_id, appeal_ref="ap-1")
    assert (again.id, created_again, again.signal_count) == (case.id, False, 1)
    other, _ = appeal(db, confirming, case_id=original.id, appeal_ref="ap-2")
    assert (other.id, other.signal_count) == (case.id, 2)

    with pytest.raises(PermissionDenied, match="different reviewer"):
        decide(db, confirming, case.id, rita, Outcome.NOT_VIOLATING)
    done = decide(db, confirming, case.id, sam, Outcome.NOT_VIOLATING, note="not what it seemed")
    assert done.status == CaseStatus.DECIDED
    with db.session() as s:
        restore = s.scalars(select(Action).where(Action.case_id == case.id)).one()
        assert (restore.type, restore.subject_ref) == ("content.restore", "post-1")
        entries = list(s.scalars(select(BankEntry)))
        assert entries
        assert all(e.removed_at is not None for e in entries)
        overturned = s.scalars(select(Event).where(Event.kind == "case.overturned")).one()
        assert overturned.subject == f"case:{original.id}"
        assert overturned.payload["appeal_case_id"] == case.id
        assert sorted(overturned.payload["bank_entries_removed"]) == sorted(e.id for e in entries)
        detail = service.case_detail(s, confirming, service.get_case(s, original.id))
        assert detail.appeals == [case.id]
    with pytest.raises(Conflict, match="already decided"):
        appeal(db, confirming, case_id=original.id)


def test_upheld_appeal_lifts_the_suspension_it_caused(
    db: Database, settings: Settings, open_case: OpenCase, rita: User, sam: User
) -> None:
    suspending = settings.model_copy(update={"case_suspend_labels": ["A1"]})
    original = open_case("post-9", account_ref="acct-9", settings_=suspending)
    decide(db, suspending, original.id, rita, Outcome.VIOLATING, "A1")
    case, _ = appeal(db, suspending, case_id=original.id, appeal_ref="ap-9")
    decide(db, suspending, case.id, sam, Outcome.NOT_VIOLATING)
    with db.session() as s:
        sent = {
            (a.type, a.subject_kind, a.subject_ref)
            for a in s.scalars(select(Action).where(Action.case_id == case.id))
        }
    assert sent == {
        ("content.restore", "content", "post-9"),
        ("account.restore", "account", "acct-9"),
    }


def test_upheld_appeal_restores_no_account_that_was_not_suspended(
    db: Database, settings: Settings, open_case: OpenCase, rita: User, sam: User
) -> None:
    original = open_case("post-10", account_ref="acct-10")
    decide(db, settings, original.id, rita, Outcome.VIOLATING, "A1")
    case, _ = appeal(db, settings, case_id=original.id)
    decide(db, settings, case.id, sam, Outcome.NOT_VIOLATING)
    with db.session() as s:
        types = [a.type for a in s.scalars(select(Action).where(Action.case_id == case.id))]
    assert types == ["content.restore"]


def test_rejected_appeal_changes_nothing_else(
    db: Database, confirming: Settings, open_case: OpenCase, rita: User, sam: User
) -> None:
    original = open_case(settings_=confirming)
    decide(db, confirming, original.id, rita, Outcome.VIOLATING, "A2")
    case, _ = appeal(db, confirming, case_id=original.id)
    decide(db, confirming, case.id, sam, Outcome.VIOLATING, "A2")
    with db.session() as s:
        assert s.scalars(select(Action).where(Action.case_id == case.id)).all() == []
        assert all(e.removed_at is None for e in s.scalars(select(BankEntry)))
        # the appeal's own decision is final: it cannot be appealed
    with pytest.raises(Conflict, match="itself an appeal"):
        appeal(db, confirming, case_id=case.id)


def test_the_confirmer_of_the_original_may_not_decide_the_appeal(
    db: Database, settings: Settings, open_case: OpenCase, rita: User, sam: User, tess: User
) -> None:
    two = settings.model_copy(update={"case_two_person_labels": ["A1"]})
    original = open_case()
    decide(db, two, original.id, rita, Outcome.VIOLATING, "A1")
    confirm(db, two, original.id, sam)
    case, _ = appeal(db, two, case_id=original.id)
    with pytest.raises(PermissionDenied, match="different reviewer"):
        decide(db, two, case.id, sam, Outcome.NOT_VIOLATING)
    assert decide(db, two, case.id, tess, Outcome.NOT_VIOLATING).status == "decided"


def test_appeals_need_a_violating_decision(
    db: Database, settings: Settings, open_case: OpenCase, rita: User
) -> None:
    case = open_case()
    with pytest.raises(Conflict, match="no violating decision"):
        appeal(db, settings, case_id=case.id)
    decide(db, settings, case.id, rita, Outcome.NOT_VIOLATING)
    with pytest.raises(Conflict, match="no violating decision"):
        appeal(db, settings, case_id=case.id)


@pytest.mark.parametrize(
    ("named", "error", "message"),
    [
        ({}, InvalidInput, "exactly one"),
        ({"case_id": 1, "action_id": 1}, InvalidInput, "exactly one"),
        ({"case_id": 999}, NotFound, "no case"),
        ({"action_id": 999}, NotFound, "no action"),
        ({"action_key": "nope"}, NotFound, "no action"),
        ({"case_id": 1, "reason": "free text!"}, InvalidInput, "short code"),
        ({"case_id": 1, "appeal_ref": "x" * 201}, InvalidInput, "longer than 200"),
    ],
)
def test_bad_appeals(
    db: Database,
    settings: Settings,
    named: dict[str, object],
    error: type[Exception],
    message: str,
) -> None:
    with pytest.raises(error, match=message):
        appeal(db, settings, **named)


def test_actions_without_a_case_cannot_be_appealed(db: Database, settings: Settings) -> None:
    from shieldwall.actions.service import ActionType, request_action

    with db.session() as s:
        action = request_action(
            s,
            settings,
            ActionType.CONTENT_BLOCK,
            subject_kind="content",
            subject_ref="p",
            case_id=None,
            labels=[],
            reason="block verdict",
            key="scan:abc:content.block",
            actor=SYSTEM,
        )
        s.flush()
        action_id = action.id
    with pytest.raises(Conflict, match="not asked for by a case decision"):
        appeal(db, settings, action_id=action_id)
    with pytest.raises(Conflict, match="not asked for by a case decision"):
        appeal(db, settings, action_key="scan:abc:content.block")
    with db.session() as s:
        assert s.scalars(select(Case).where(Case.sources.is_not(None))).all() == []
    assert CaseSource.APPEAL.value == "appeal"
