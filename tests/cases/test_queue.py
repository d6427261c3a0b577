"""The queue (priority, then age), assignment, the first-review clock, preferences."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from shieldwall.audit.models import Event
from shieldwall.cases import service
from shieldwall.cases.models import Case
from shieldwall.cases.schemas import (
    CaseSource,
    CaseStatus,
    ReviewPreferences,
    ReviewPreferencesIn,
    SignalIn,
)
from shieldwall.config import Settings
from shieldwall.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from shieldwall.db.base import utcnow
from shieldwall.db.engine import Database
from shieldwall.users.models import User
from tests.cases.conftest import OpenCase, match_signal, principal
from tests.cases.test_decisions import decide
from tests.conftest import SYSTEM

pytestmark = pytest.mark.db


def classifier(score: float) -> SignalIn:
    return SignalIn(
        source=CaseSource.CLASSIFIER,
        principles=[2],
        summary={"classifier": "stand-in"},
        score=score,
    )


def report(n: int, *, danger: bool = False) -> SignalIn:
    return SignalIn(
        source=CaseSource.USER_REPORT,
        principles=[8],
        summary={"user_report_id": n},
        labels=["other"],
        child_in_danger=danger,
        ref=f"user_report:{n}",
    )


def backdate(db: Database, case_id: int, hours: float) -> None:
    with db.session() as s:
        case = s.get(Case, case_id)
        assert case is not None
        case.detected_at = utcnow() - timedelta(hours=hours)
        case.due_at = case.detected_at + timedelta(hours=1)


def test_queue_orders_by_priority_then_age(
    db: Database, settings: Settings, open_case: OpenCase, rita: User
) -> None:
    low_old = open_case("a", signal=classifier(0.1))
    low_new = open_case("b", signal=classifier(0.1))
    backdate(db, low_old.id, 5)
    other_match = open_case("c", signal=match_signal(3, labels=()))
    a1 = open_case("d", signal=match_signal(4, labels=("A1",)))
    danger = open_case("e", signal=report(1, danger=True))
    decided = open_case("f", signal=report(2))
    decide(db, settings, decided.id, rita, service.Outcome.NOT_VIOLATING)
    with db.session() as s:
        page = service.queue(s)
        assert [c.id for c in page.items] == [
            danger.id,
            a1.id,
            other_match.id,
            low_old.id,
            low_new.id,
        ]
        assert page.total == 5
        assert [c.priority for c in page.items] == [1000, 900, 600, 230, 230]
        everything = service.queue(s, statuses=None)
        assert everything.total == 6
        assert service.queue(s, source=CaseSource.CLASSIFIER).total == 2
        assert service.queue(s, label="A1").items[0].id == a1.id
        assert service.queue(s, principle=8).total == 1
        assert service.queue(s, principle=1).total == 2
        assert [c.id for c in service.queue(s, overdue=True).items] == [low_old.id]
        assert service.queue(s, subject_ref="d").items[0].id == a1.id
        assert service.queue(s, limit=2, offset=1).items[0].id == a1.id
        counts = service.status_counts(s)
        assert counts == {"open": 5, "in_review": 0, "escalated": 0, "decided": 1, "closed": 0}
        assert service.next_in_queue(s, after_case_id=danger.id) == a1.id
        assert service.next_in_queue(s, after_case_id=decided.id) == danger.id
        with pytest.raises(InvalidInput, match="unknown status"):
            service.queue(s, statuses=["pending"])
        with pytest.raises(InvalidInput, match="unknown source"):
            service.queue(s, source="rumour")
        with pytest.raises(InvalidInput, match="no user named"):
            service.queue(s, assignee="nobody")


def test_assignment(
    db: Database, settings: Settings, open_case: OpenCase, rita: User, sam: User, ann: User
) -> None:
    case = open_case()
    with db.session() as s:
        taken = service.assign(s, settings, case.id, actor=principal(rita))
        assert (taken.assignee_id, taken.status) == (rita.id, CaseStatus.IN_REVIEW)
        assert taken.assigned_at is not None
    with db.session() as s:
        given = service.assign(s, settings, case.id, username="sam", actor=principal(rita))
        assert given.assignee_id == sam.id
        assert service.queue(s, assignee="sam").total == 1
        assert service.queue(s, assignee="me", viewer=principal(sam)).total == 1
        assert service.queue(s, unassigned=True).total == 0
        assert service.queue(s).items[0].assignee == "sam"
    with db.session() as s:
        service.assign(s, settings, case.id, unassign=True, actor=principal(rita))
    with db.session() as s:
        row = s.get(Case, case.id)
        assert row is not None
        assert row.assignee_id is None
        kinds = list(s.scalars(select(Event.kind).where(Event.subject == f"case:{case.id}")))
        assert kinds == ["case.opened", "case.assigned", "case.assigned", "case.unassigned"]
    with db.session() as s, pytest.raises(InvalidInput, match="cannot review cases"):
        service.assign(s, settings, case.id, username="ann", actor=principal(rita))
    with db.session() as s, pytest.raises(NotFound, match="no user named"):
        service.assign(s, settings, case.id, username="nobody", actor=principal(rita))
    with db.session() as s, pytest.raises(PermissionDenied):
        service.assign(s, settings, case.id, actor=principal(ann))
    with db.session() as s, pytest.raises(InvalidInput, match="not a person"):
        service.assign(s, settings, case.id, actor=SYSTEM)
    decide(db, settings, case.id, rita, service.Outcome.NOT_VIOLATING)
    with db.session() as s, pytest.raises(Conflict, match="is decided"):
        service.assign(s, settings, case.id, actor=principal(rita))


def test_first_review_clock_starts_once_for_a_reviewer(
    db: Database, settings: Settings, open_case: OpenCase, rita: User, sam: User, ann: User
) -> None:
    case = open_case()
    with db.session() as s:
        service.get_case_detail(s, settings, case.id, viewer=principal(ann))  # reads only
        service.get_case_detail(s, settings, case.id)
    with db.session() as s:
        assert service.get_case(s, case.id).first_reviewed_at is None
    with db.session() as s:
        detail = service.get_case_detail(s, settings, case.id, viewer=principal(rita))
        assert detail.status == CaseStatus.IN_REVIEW
        first = detail.sla.first_reviewed_at
        assert first is not None
        assert detail.sla.seconds_to_first_review is not None
        assert detail.sla.seconds_to_decision is None
    with db.session() as s:
        later = service.get_case_detail(s, settings, case.id, viewer=principal(sam))
        assert later.sla.first_reviewed_at == first
        assert [t.kind for t in later.timeline] == ["case.opened", "case.review_started"]
        assert later.signals[0].hash_types == ["md5", "pdq"]
        assert later.signals[0].summary == {"scan_id": "scan1", "entries": [1], "banks": ["KNOWN"]}
    decide(db, settings, case.id, rita, service.Outcome.NOT_VIOLATING)
    with db.session() as s:
        detail = service.get_case_detail(s, settings, case.id, viewer=principal(rita))
        assert detail.sla.seconds_to_decision is not None
        assert detail.sla.overdue is False


def test_media_ids_in_arrival_order(db: Database, open_case: OpenCase) -> None:
    case = open_case(signal=match_signal(1, media_id=7))
    open_case(signal=match_signal(2, media_id=5))
    open_case(signal=match_signal(3, media_id=7))
    with db.session() as s:
        assert service.media_ids(s, case.id) == [7, 5]
        assert service.get_case(s, case.id).media_id == 7
        with pytest.raises(NotFound):
            service.media_ids(s, 999)


def test_preferences_resolve_user_then_organisation_then_built_in(
    db: Database, rita: User, sam: User, admin: User
) -> None:
    with db.session() as s:
        prefs = service.preferences_for(s, rita.id)
        assert (prefs.blur, prefs.grayscale, prefs.video_muted) == (True, True, True)
        assert set(prefs.sources.values()) == {"built-in"}
        service.set_organisation_preferences(
            s,
            ReviewPreferences(blur=True, grayscale=False, video_muted=True),
            actor=principal(admin),
        )
        service.set_own_preferences(
            s, rita.id, ReviewPreferencesIn(blur=False), actor=principal(rita)
        )
    with db.session() as s:
        mine = service.preferences_for(s, rita)
        assert (mine.blur, mine.grayscale, mine.video_muted) == (False, False, True)
        assert mine.sources == {
            "blur": "user",
            "grayscale": "organisation",
            "video_muted": "organisation",
        }
        assert service.preferences_for(s, sam.id).blur is True
        assert service.own_preferences(s, rita.id) == ReviewPreferencesIn(blur=False)
        assert service.organisation_preferences(s).grayscale is False
        assert service.preferences_for(s, None).blur is True
        kinds = list(s.scalars(select(Event.kind).where(Event.kind.startswith("review."))))
        assert kinds == ["review.defaults_changed", "review.preferences_changed"]
    with db.session() as s, pytest.raises(PermissionDenied, match="admins"):
        service.set_organisation_preferences(s, ReviewPreferences(), actor=principal(rita))
    with db.session() as s, pytest.raises(PermissionDenied, match="their own"):
        service.set_own_preferences(s, sam.id, ReviewPreferencesIn(), actor=principal(rita))
