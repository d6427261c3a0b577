"""Survivors' takedown requests through the service: a case like any other, a token that is
never stored, approval into the survivor bank with past scans re-surfaced, a plain decline."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from shieldwall.banks import service as banks
from shieldwall.banks.models import Bank, BankEntry
from shieldwall.banks.schemas import BankCreate, BankKind
from shieldwall.cases import history
from shieldwall.cases import service as cases
from shieldwall.cases.models import Case, CaseSignal
from shieldwall.cases.schemas import CaseSource, Outcome
from shieldwall.config import Settings
from shieldwall.core.access import Principal
from shieldwall.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied, RateLimited
from shieldwall.intake import takedowns, tokens
from shieldwall.intake.models import RateLimitWindow, TakedownRequest
from shieldwall.intake.schemas import TakedownRequestIn, TakedownStatus
from tests.conftest import SYSTEM
from tests.intake.conftest import events, hashes_of, md5_of, pdq_of, sha256_of, with_limits

pytestmark = pytest.mark.db

ADDRESS = "198.51.100.23"
CONTACT = "helper@example.org"
MESSAGE = "these were taken when I was 15; please stop them spreading"


def body(n: int = 1, **extra: Any) -> TakedownRequestIn:
    return TakedownRequestIn.model_validate({"hashes": hashes_of(n), **extra})


def submit(
    session: Session, settings: Settings, n: int = 1, *, address: str = ADDRESS, **extra: Any
) -> takedowns.TakedownReceived:
    received = takedowns.submit_takedown(
        session, settings, body(n, **extra), client_address=address
    )
    session.commit()
    return received


def status(
    session: Session,
    settings: Settings,
    received: takedowns.TakedownReceived,
    token: str | None = None,
) -> TakedownStatus:
    found = takedowns.takedown_status(
        session,
        settings,
        received.request.id,
        token or received.status_token,
        client_address=ADDRESS,
    )
    session.commit()
    assert found is not None
    return found.status


def decide(
    session: Session,
    settings: Settings,
    case_id: int,
    reviewer: Principal,
    outcome: Outcome,
    label: str | None = None,
) -> Case:
    case = cases.decide(
        session,
        settings,
        case_id,
        outcome=outcome,
        label=label,
        note="private reviewer note",
        actor=reviewer,
    )
    session.commit()
    return case


def keep_scan(
    session: Session, settings: Settings, n: int, *, pdq: str | None = None, ref: str | None = None
) -> int:
    row = history.record_scan(
        session,
        settings,
        scan_id=f"scan{n}",
        actor=SYSTEM,
        source="upload",
        media_kind="photo",
        verdict="allow",
        hashes=[
            ("md5", md5_of(n), "original"),
            ("sha256", sha256_of(n), "original"),
            ("pdq", pdq or pdq_of(n), "original"),
        ],
        content_ref=ref,
        account_ref="uploader-1",
    )
    session.commit()
    return row.id


def flip(hex_value: str, bits: int) -> str:
    return f"{int(hex_value, 16) ^ ((1 << bits) - 1):064x}"


# ---- receiving -----------------------------------------------------------------------------


def test_a_request_opens_a_survivor_case_and_hands_out_a_token_once(
    session: Session, settings: Settings
) -> None:
    received = submit(
        session,
        settings,
        contact=CONTACT,
        message=MESSAGE,
        on_behalf=True,
        category="child_sexual_exploitation",
    )
    row = received.request
    assert row.status == "received"
    assert row.hash_count == 3
    assert row.hashes == hashes_of(1)
    # the token itself is nowhere in the database, only its digest
    assert row.token_hash == tokens.digest(received.status_token)
    assert received.status_token not in repr(
        [tuple(r) for r in session.execute(select(TakedownRequest.__table__))]
    )
    case = session.get(Case, row.case_id)
    assert case is not None
    assert (case.subject_kind, case.subject_ref) == ("content", f"takedown_request:{row.id}")
    assert case.sources == [CaseSource.SURVIVOR_REQUEST]
    assert case.principles == [8]
    signal = session.scalar(select(CaseSignal).where(CaseSignal.case_id == case.id))
    assert signal is not None
    assert signal.actor == takedowns.REQUESTER
    assert signal.summary == {
        "takedown_request_id": row.id,
        "hash_count": 3,
        "signal_types": ["md5", "pdq", "sha256"],
        "category": "child_sexual_exploitation",
        "on_behalf": True,
        "has_contact": True,
        "has_message": True,
    }
    received_events = events(session, "takedown_request.")
    assert [e.kind for e in received_events] == ["takedown_request.received"]
    assert received_events[0].actor == takedowns.REQUESTER


def test_nothing_about_the_requester_is_kept_in_the_clear(
    session: Session, settings: Settings, db: Any
) -> None:
    submit(session, settings, contact=CONTACT, message=MESSAGE)
    with db.engine.connect() as conn:
        dump = ""
        for table in ("takedown_requests", "rate_limit_windows", "events", "case_signals", "cases"):
            dump += repr([tuple(r) for r in conn.exec_driver_sql(f"SELECT * FROM {table}")])
    for secret in (ADDRESS, CONTACT, "taken when I was 15"):
        assert secret not in dump


def test_settings_limits_name_the_problem_and_write_nothing(
    session: Session, settings: Settings
) -> None:
    small = with_limits(settings, takedown_max_hashes=2, takedown_max_message_chars=5)
    with pytest.raises(InvalidInput, match="at most 2 hashes") as refused:
        takedowns.submit_takedown(session, small, body(), client_address=ADDRESS)
    assert refused.value.context["field"] == "hashes"
    one = TakedownRequestIn.model_validate({"hashes": hashes_of(1)[:1], "message": "x" * 6})
    with pytest.raises(InvalidInput, match="message is 6 characters") as refused:
        takedowns.submit_takedown(session, small, one, client_address=ADDRESS)
    assert refused.value.context["field"] == "message"
    session.rollback()
    assert session.scalar(select(TakedownRequest)) is None
    assert session.scalar(select(RateLimitWindow)) is None
    assert events(session, "takedown_request.") == []


def test_a_low_quality_pdq_is_refused_naming_its_position(
    session: Session, settings: Settings
) -> None:
    low = TakedownRequestIn.model_validate(
        {"hashes": [*hashes_of(1)[:2], *hashes_of(2, quality=30)]}
    )
    with pytest.raises(InvalidInput) as refused:
        takedowns.submit_takedown(session, settings, low, client_address=ADDRESS)
    assert refused.value.context["field"] == "hashes.4.quality"
    assert "hashes.4" in refused.value.message
    assert "quality 30" in refused.value.message


def test_requests_are_rate_limited_per_address(session: Session, settings: Settings) -> None:
    limited = with_limits(settings, takedown_rate_limit=2)
    submit(session, limited, 1)
    submit(session, limited, 2)
    with pytest.raises(RateLimited) as refused:
        takedowns.submit_takedown(session, limited, body(3), client_address=ADDRESS)
    session.rollback()
    assert refused.value.retry_after >= 1
    assert len(list(session.scalars(select(TakedownRequest)))) == 2
    assert submit(session, limited, 3, address="203.0.113.99").request.id


# ---- the requester's view ------------------------------------------------------------------


def test_status_needs_the_right_token_and_says_nothing_otherwise(
    session: Session, settings: Settings
) -> None:
    received = submit(session, settings)
    request_id = received.request.id
    for token in (None, "", "wrong", received.status_token[:-1], tokens.new_token()):
        assert (
            takedowns.takedown_status(session, settings, request_id, token, client_address=ADDRESS)
            is None
        )
    assert (
        takedowns.takedown_status(
            session, settings, request_id + 1, received.status_token, client_address=ADDRESS
        )
        is None
    )
    assert status(session, settings, received) is TakedownStatus.RECEIVED


def test_status_look_ups_are_rate_limited_and_failures_count(
    session: Session, settings: Settings
) -> None:
    limited = with_limits(settings, takedown_status_rate_limit=3)
    received = submit(session, limited)
    for _ in range(2):
        takedowns.takedown_status(session, limited, 999, "guess", client_address=ADDRESS)
        session.commit()  # what the API does before answering 404
    status(session, limited, received)
    with pytest.raises(RateLimited):
        takedowns.takedown_status(
            session, limited, received.request.id, received.status_token, client_address=ADDRESS
        )


def test_status_follows_the_review(
    session: Session, settings: Settings, reviewer: Principal
) -> None:
    received = submit(session, settings)
    assert status(session, settings, received) is TakedownStatus.RECEIVED
    cases.start_review(session, received.request.case_id, actor=reviewer)
    session.commit()
    assert status(session, settings, received) is TakedownStatus.IN_REVIEW
    decide(session, settings, received.request.case_id, reviewer, Outcome.ESCALATE)
    assert status(session, settings, received) is TakedownStatus.IN_REVIEW


# ---- approval ------------------------------------------------------------------------------


def test_approval_puts_the_hashes_in_the_survivor_bank(
    session: Session, settings: Settings, reviewer: Principal
) -> None:
    received = submit(session, settings)
    decide(session, settings, received.request.case_id, reviewer, Outcome.VIOLATING, "A2")
    bank = session.scalar(select(Bank).where(Bank.name == "SURVIVOR_REQUESTS"))
    assert bank is not None
    assert (bank.kind, bank.action, bank.enabled) == ("block", "block", True)
    entries = list(
        session.scalars(
            select(BankEntry).where(BankEntry.bank_id == bank.id).order_by(BankEntry.id)
        )
    )
    assert [(e.signal_type, e.value) for e in entries] == [
        ("md5", md5_of(1)),
        ("sha256", sha256_of(1)),
        ("pdq", pdq_of(1)),
    ]
    assert {e.source_record_id for e in entries} == {f"takedown_request:{received.request.id}"}
    assert {e.source for e in entries} == {"survivor_request"}
    assert entries[2].quality == 90
    assert all(e.labels == ["A2", "survivor_request"] for e in entries)
    assert all(e.added_by == reviewer.actor for e in entries)
    session.refresh(received.request)
    row = received.request
    assert row.status == "in_place"
    assert row.in_place_since is not None
    assert row.bank_entry_ids == [e.id for e in entries]
    found = takedowns.takedown_status(
        session, settings, row.id, received.status_token, client_address=ADDRESS
    )
    assert found is not None
    assert found.status is TakedownStatus.IN_PLACE
    assert found.in_place_since == row.in_place_since
    kinds = [e.kind for e in events(session, "takedown_request.")]
    assert kinds == [
        "takedown_request.received",
        "takedown_request.approved",
        "takedown_request.resurfaced",
    ]
    approved = events(session, "takedown_request.approved")[0]
    assert approved.payload == {
        "request_id": row.id,
        "case_id": row.case_id,
        "bank_id": bank.id,
        "added": 3,
        "duplicates": 0,
        "revived": 0,
    }
    assert approved.actor == reviewer.actor


def test_approval_resurfaces_matching_past_scans_as_hash_match_cases(
    session: Session, settings: Settings, reviewer: Principal
) -> None:
    exact = keep_scan(session, settings, 1, ref="post-7")
    near = keep_scan(session, settings, 50, pdq=flip(pdq_of(1), 20))  # no content id
    keep_scan(session, settings, 60, pdq=flip(pdq_of(1), 60))  # too far
    keep_scan(session, settings, 2, ref="post-8")  # unrelated
    received = submit(session, settings)
    decide(session, settings, received.request.case_id, reviewer, Outcome.VIOLATING, "A1")
    resurfaced = events(session, "takedown_request.resurfaced")[0].payload
    assert resurfaced["scans"] == 2
    opened = [session.get(Case, i) for i in resurfaced["case_ids"]]
    subjects = sorted(c.subject_ref for c in opened if c is not None)
    assert subjects == ["post-7", "scan:scan50"]
    for case in opened:
        assert case is not None
        assert case.sources == [CaseSource.HASH_MATCH]
        assert case.labels == ["A1", "survivor_request"]
        assert case.account_ref == "uploader-1"
        assert set(case.principles) == {1, 8}
        signal = session.scalar(select(CaseSignal).where(CaseSignal.case_id == case.id))
        assert signal is not None
        assert signal.summary["takedown_request_id"] == received.request.id
        assert signal.summary["scan_record_id"] in (exact, near)


def test_an_existing_survivor_bank_is_used_and_its_label_set_kept(
    session: Session, settings: Settings, reviewer: Principal
) -> None:
    banks.create_bank(
        session, BankCreate(name="SURVIVORS", labels=["survivor_request"]), actor=SYSTEM
    )
    session.commit()
    custom = with_limits(settings, survivor_bank="SURVIVORS")
    received = submit(session, custom)
    decide(session, custom, received.request.case_id, reviewer, Outcome.VIOLATING, "B1")
    entries = list(session.scalars(select(BankEntry)))
    assert len(entries) == 3
    assert all(e.labels == ["survivor_request"] for e in entries)  # B1 is not in its set


def test_hashes_already_banked_are_duplicates_not_errors(
    session: Session, settings: Settings, reviewer: Principal
) -> None:
    first = submit(session, settings)
    again = submit(session, settings)
    decide(session, settings, first.request.case_id, reviewer, Outcome.VIOLATING, "A1")
    decide(session, settings, again.request.case_id, reviewer, Outcome.VIOLATING, "A1")
    session.refresh(again.request)
    assert again.request.status == "in_place"
    assert len(list(session.scalars(select(BankEntry)))) == 3
    assert events(session, "takedown_request.approved")[1].payload["duplicates"] == 3


def test_an_allow_bank_under_the_survivor_name_stops_the_decision(
    session: Session, settings: Settings, reviewer: Principal
) -> None:
    banks.create_bank(
        session, BankCreate(name="SURVIVOR_REQUESTS", kind=BankKind.ALLOW), actor=SYSTEM
    )
    session.commit()
    received = submit(session, settings)
    with pytest.raises(Conflict, match="allow bank"):
        cases.decide(
            session,
            settings,
            received.request.case_id,
            outcome=Outcome.VIOLATING,
            label="A1",
            note="",
            actor=reviewer,
        )
    session.rollback()
    session.refresh(received.request)
    assert received.request.status == "received"
    assert session.get(Case, received.request.case_id).status == "open"  # type: ignore[union-attr]


# ---- decline -------------------------------------------------------------------------------


def test_a_decline_shows_a_plain_reason_and_no_reviewer(
    session: Session, settings: Settings, reviewer: Principal
) -> None:
    received = submit(session, settings)
    decide(session, settings, received.request.case_id, reviewer, Outcome.NOT_VIOLATING)
    found = takedowns.takedown_status(
        session, settings, received.request.id, received.status_token, client_address=ADDRESS
    )
    assert found is not None
    assert found.status is TakedownStatus.DECLINED
    assert found.explanation == takedowns.DECLINED_REASON
    assert found.in_place_since is None
    shown = found.model_dump_json()
    assert "rita" not in shown
    assert reviewer.actor not in shown
    assert "private reviewer note" not in shown
    assert session.scalar(select(BankEntry)) is None
    assert [e.kind for e in events(session, "takedown_request.")] == [
        "takedown_request.received",
        "takedown_request.declined",
    ]


def test_the_hook_changes_nothing_once_a_request_is_decided(
    session: Session, settings: Settings, reviewer: Principal
) -> None:
    received = submit(session, settings)
    case = decide(session, settings, received.request.case_id, reviewer, Outcome.NOT_VIOLATING)
    case.outcome = Outcome.VIOLATING  # as if the hook ran again with another outcome
    takedowns.on_case_decided(session, settings, case, reviewer)
    session.flush()
    session.refresh(received.request)
    assert received.request.status == "declined"
    assert session.scalar(select(BankEntry)) is None
    session.rollback()


def test_the_hook_is_registered_for_survivor_requests() -> None:
    assert takedowns.on_case_decided in cases.decision_hooks(CaseSource.SURVIVOR_REQUEST)


# ---- reviewers -----------------------------------------------------------------------------


def test_reviewers_see_the_hashes_and_what_was_shared_and_views_are_logged(
    session: Session, settings: Settings, reviewer: Principal
) -> None:
    received = submit(session, settings, contact=CONTACT, message=MESSAGE)
    shown = takedowns.takedown_for_review(session, settings, received.request.id, actor=reviewer)
    session.commit()
    assert shown.hashes == hashes_of(1)
    assert (shown.contact, shown.message) == (CONTACT, MESSAGE)
    assert shown.status is TakedownStatus.RECEIVED
    assert "status_token" not in shown.model_dump()
    viewed = events(session, "takedown_request.viewed")
    assert [(e.actor, e.payload["request_id"]) for e in viewed] == [
        (reviewer.actor, received.request.id)
    ]


def test_only_reviewers_see_a_request(
    session: Session, settings: Settings, platform: Principal, analyst: Principal
) -> None:
    received = submit(session, settings)
    for actor in (platform, analyst):
        with pytest.raises(PermissionDenied):
            takedowns.takedown_for_review(session, settings, received.request.id, actor=actor)
    with pytest.raises(NotFound):
        takedowns.takedown_for_review(session, settings, 999, actor=SYSTEM)


def test_approval_asks_the_platform_for_nothing_about_the_request_itself(
    session: Session, settings: Settings, reviewer: Principal
) -> None:
    """A takedown request is not content on the platform: no content.remove for it (past
    uploads that match are re-surfaced as their own cases instead)."""
    from shieldwall.actions.service import list_actions

    received = submit(session, settings)
    decide(session, settings, received.request.case_id, reviewer, Outcome.VIOLATING, "A1")
    assert list_actions(session, case_id=received.request.case_id) == []
