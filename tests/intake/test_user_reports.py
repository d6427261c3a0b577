"""User reports through the service: sealed text, cases joined by content, rate limits,
reviewers' reading, events."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.orm import Session

from shieldwall.cases.models import Case, CaseSignal
from shieldwall.config import Settings
from shieldwall.core.access import Principal
from shieldwall.core.errors import InvalidInput, NotFound, PermissionDenied, RateLimited
from shieldwall.db.engine import Database
from shieldwall.intake import service
from shieldwall.intake.models import RateLimitWindow, UserReport, UserReportKey
from shieldwall.intake.schemas import UserReportIn
from tests.intake.conftest import events, hashes_of, md5_of, with_limits

pytestmark = pytest.mark.db

TEXT = "he keeps asking my little sister to move to another app"


def body(**extra: Any) -> UserReportIn:
    values: dict[str, Any] = {
        "reporter_id": "u-1",
        "category": "grooming",
        "content_id": "post-1",
        **extra,
    }
    return UserReportIn.model_validate(values)


def submit(session: Session, settings: Settings, actor: Principal, **extra: Any) -> UserReport:
    received = service.submit_report(session, settings, body(**extra), actor=actor)
    session.commit()
    return received.report


def case_of(session: Session, report: UserReport) -> Case:
    assert report.case_id is not None
    case = session.get(Case, report.case_id)
    assert case is not None
    return case


# ---- receiving -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("category", "rule"),
    [
        ("grooming", "serious_user_report"),
        ("sextortion", "serious_user_report"),
        ("child_sexual_exploitation", "serious_user_report"),
        ("other", "user_report"),
    ],
)
def test_the_category_sets_the_case_priority(
    session: Session, settings: Settings, platform: Principal, category: str, rule: str
) -> None:
    """The report's category is the signal's label, so the documented priority rule for
    serious reports (exploitation, grooming, sextortion) applies to them and not to 'other'."""
    case = case_of(session, submit(session, settings, platform, category=category))
    assert case.priority_rule == rule
    assert case.labels == [category]


def test_a_report_opens_a_case_with_a_user_report_signal(
    session: Session, settings: Settings, platform: Principal, db: Database
) -> None:
    report = submit(
        session, settings, platform, text=TEXT, child_in_danger=True, account_id="acct-9"
    )
    case = case_of(session, report)
    assert (case.subject_kind, case.subject_ref, case.account_ref) == (
        "content",
        "post-1",
        "acct-9",
    )
    assert case.sources == ["user_report"]
    assert case.child_in_danger is True
    assert {3, 8} <= set(case.principles)  # grooming counts for principles 3 and 8
    signal = session.scalar(select(CaseSignal).where(CaseSignal.case_id == case.id))
    assert signal is not None
    assert signal.ref == f"user_report:{report.id}"
    assert signal.summary == {
        "report_id": report.id,
        "category": "grooming",
        "child_in_danger": True,
        "hash_count": 0,
        "has_text": True,
    }
    received = events(session, "user_report.")
    assert [e.kind for e in received] == ["user_report.received"]
    assert received[0].actor == "apikey:41"
    assert received[0].subject == f"user_report:{report.id}"
    assert received[0].payload["joined_report_id"] is None
    assert TEXT not in repr([e.payload for e in events(session)])


def test_the_text_is_sealed_at_rest(
    session: Session, settings: Settings, platform: Principal
) -> None:
    report = submit(session, settings, platform, text=TEXT)
    assert report.text_sealed is not None
    assert TEXT.encode() not in report.text_sealed
    assert b"little sister" not in report.text_sealed
    assert report.text_chars == len(TEXT)


def test_the_reporter_id_is_kept_only_as_a_keyed_hash(
    session: Session, settings: Settings, platform: Principal, db: Database
) -> None:
    report = submit(session, settings, platform, reporter_id="reporter-secret-77")
    assert "reporter-secret-77" not in report.reporter_key
    with db.engine.connect() as conn:
        dump = repr([tuple(r) for r in conn.exec_driver_sql("SELECT * FROM user_reports")])
        dump += repr([tuple(r) for r in conn.exec_driver_sql("SELECT * FROM rate_limit_windows")])
    assert "reporter-secret-77" not in dump


def test_oversized_text_is_refused_and_nothing_is_written(
    session: Session, settings: Settings, platform: Principal, db: Database
) -> None:
    small = with_limits(settings, user_report_max_text_chars=10)
    with pytest.raises(InvalidInput) as refused:
        service.submit_report(session, small, body(text="x" * 11), actor=platform)
    session.rollback()
    assert refused.value.context["field"] == "text"
    assert "11 characters" in refused.value.message
    assert session.scalar(select(UserReport)) is None
    assert session.scalar(select(RateLimitWindow)) is None
    assert events(session, "user_report.") == []
    assert submit(session, small, platform, text="x" * 10).text_chars == 10


# ---- repeated reports join one case --------------------------------------------------------


def test_repeated_reports_of_the_same_content_id_join_one_case(
    session: Session, settings: Settings, platform: Principal, db: Database
) -> None:
    first = submit(session, settings, platform, reporter_id="u-1")
    second = submit(session, settings, platform, reporter_id="u-2", category="other")
    assert first.case_id == second.case_id
    case = case_of(session, second)
    assert case.signal_count == 2
    assert events(session, "user_report.received")[1].payload["joined_report_id"] == first.id


def test_reports_join_by_url_or_hash_even_without_a_content_id(
    session: Session, settings: Settings, platform: Principal
) -> None:
    by_id = submit(
        session, settings, platform, url="https://example.org/p/1", hashes=hashes_of(1)[:1]
    )
    by_url = submit(session, settings, platform, content_id=None, url="https://example.org/p/1")
    by_hash = submit(
        session,
        settings,
        platform,
        content_id=None,
        hashes=[{"signal_type": "md5", "value": md5_of(1).upper()}],
    )
    assert by_id.case_id == by_url.case_id == by_hash.case_id
    assert (by_url.subject_kind, by_url.subject_ref) == ("content", "post-1")
    # the chain holds: a report naming only the URL's other hash joins too
    assert case_of(session, by_hash).signal_count == 3


def test_different_content_gets_different_cases(
    session: Session, settings: Settings, platform: Principal
) -> None:
    one = submit(session, settings, platform)
    other = submit(session, settings, platform, content_id="post-2")
    by_url = submit(session, settings, platform, content_id=None, url="https://example.org/p/9")
    account = submit(session, settings, platform, content_id=None, account_id="acct-3")
    conversation = submit(
        session, settings, platform, content_id=None, conversation_id="conv-5", account_id="acct-3"
    )
    assert len({r.case_id for r in (one, other, by_url, account, conversation)}) == 5
    assert (by_url.subject_kind, by_url.subject_ref) == ("content", "url:https://example.org/p/9")
    assert (account.subject_kind, account.subject_ref) == ("account", "acct-3")
    assert (conversation.subject_kind, conversation.subject_ref) == ("conversation", "conv-5")


def test_a_long_url_is_named_by_its_digest(
    session: Session, settings: Settings, platform: Principal
) -> None:
    url = "https://example.org/" + "p" * 300
    report = submit(session, settings, platform, content_id=None, url=url)
    assert report.subject_ref.startswith("url-sha256:")
    assert len(report.subject_ref) <= 200
    assert report.url == url


def test_a_hash_only_report_is_filed_under_its_exact_hash(
    session: Session, settings: Settings, platform: Principal
) -> None:
    report = submit(session, settings, platform, content_id=None, hashes=hashes_of(4)[::-1])
    assert report.subject_ref == f"sha256:{hashes_of(4)[1]['value']}"
    keys = session.scalars(select(UserReportKey.key).where(UserReportKey.report_id == report.id))
    assert len(list(keys)) == 3
    assert case_of(session, report).signal_count == 1


# ---- rate limits ---------------------------------------------------------------------------


def test_reports_are_rate_limited_per_reporter(
    session: Session, settings: Settings, platform: Principal, db: Database
) -> None:
    limited = with_limits(settings, user_report_rate_limit=2)
    submit(session, limited, platform, reporter_id="u-1")
    submit(session, limited, platform, reporter_id="u-1", content_id="post-2")
    with pytest.raises(RateLimited) as refused:
        service.submit_report(
            session, limited, body(reporter_id="u-1", content_id="post-3"), actor=platform
        )
    session.rollback()
    assert refused.value.retry_after >= 1
    assert "reports from this reporter" in refused.value.message
    assert session.scalar(select(UserReport).where(UserReport.content_id == "post-3")) is None
    # another reporter on the same platform is not affected
    assert submit(session, limited, platform, reporter_id="u-2", content_id="post-3").id


# ---- reviewers -----------------------------------------------------------------------------


def test_reviewers_read_the_text_and_each_view_is_logged(
    session: Session, settings: Settings, platform: Principal, reviewer: Principal, db: Database
) -> None:
    report = submit(
        session,
        settings,
        platform,
        text=TEXT,
        url="https://example.org/p/1",
        hashes=hashes_of(2)[:1],
    )
    shown = service.report_for_review(session, settings, report.id, actor=reviewer)
    session.commit()
    assert shown.text == TEXT
    assert shown.category == "grooming"
    assert shown.url == "https://example.org/p/1"
    assert shown.hashes == [hashes_of(2)[0]]
    assert shown.case_id == report.case_id
    assert shown.reporter == report.reporter_key[:12]
    assert service.report_text(session, settings, report.id, actor=reviewer) == TEXT
    session.commit()
    viewed = events(session, "user_report.viewed")
    assert len(viewed) == 2
    assert viewed[0].actor == reviewer.actor
    assert viewed[0].payload == {"report_id": report.id, "case_id": report.case_id}


@pytest.mark.parametrize("who", ["platform", "analyst"])
def test_only_cases_read_may_read_a_report(
    session: Session,
    settings: Settings,
    platform: Principal,
    analyst: Principal,
    who: str,
    db: Database,
) -> None:
    report = submit(session, settings, platform, text=TEXT)
    actor = platform if who == "platform" else analyst
    with pytest.raises(PermissionDenied):
        service.report_for_review(session, settings, report.id, actor=actor)
    assert events(session, "user_report.viewed") == []


def test_an_unknown_report_is_not_found(
    session: Session, settings: Settings, reviewer: Principal
) -> None:
    with pytest.raises(NotFound):
        service.report_for_review(session, settings, 999, actor=reviewer)


def test_text_sealed_under_another_master_key_is_a_clear_error(
    session: Session, settings: Settings, platform: Principal, reviewer: Principal
) -> None:
    report = submit(session, settings, platform, text=TEXT)
    other = with_limits(
        settings, master_key=None, master_key_file=None, data_dir=settings.data_dir / "elsewhere"
    )
    assert other.resolved_keyring().current != settings.resolved_keyring().current
    with pytest.raises(Exception, match="master key") as failed:
        service.report_for_review(session, other, report.id, actor=reviewer)
    assert TEXT not in str(failed.value)


def test_a_rotated_master_key_still_opens_old_text(
    session: Session, settings: Settings, platform: Principal, reviewer: Principal
) -> None:
    report = submit(session, settings, platform, text=TEXT)
    old = settings.resolved_keyring().current
    rotated = with_limits(
        settings, master_key=SecretStr("07" * 32), previous_master_keys=[SecretStr(old.hex())]
    )
    assert rotated.resolved_keyring().current != old
    shown = service.report_for_review(session, rotated, report.id, actor=reviewer)
    assert shown.text == TEXT
