"""The CyberTipline lifecycle through the outbox against the fake server over real HTTP:
the whole lifecycle, each fault mode, crash-resume without a duplicate, never twice."""

from __future__ import annotations

from datetime import timedelta

import pytest
from lxml import etree
from sqlalchemy import func, select

from shieldwall.audit.models import Event
from shieldwall.config import Settings
from shieldwall.core.errors import Conflict
from shieldwall.db.base import utcnow
from shieldwall.db.engine import Database
from shieldwall.devtools.fake_cybertipline import FakeCyberTipline
from shieldwall.jobs import repository as jobs_repository
from shieldwall.jobs.models import OutboxItem
from shieldwall.reporting import delivery, service
from shieldwall.reporting.models import Report, ReportCase
from tests.conftest import SYSTEM
from tests.reporting.conftest import DecidedCase, worker

Fake = tuple[FakeCyberTipline, str]


def only_report(db: Database) -> Report:
    with db.session() as s:
        reports = list(s.scalars(select(Report)))
        assert len(reports) == 1
        s.expunge(reports[0])
        return reports[0]


def out(db: Database, settings: Settings, report_id: int):  # type: ignore[no-untyped-def]
    with db.session() as s:
        return service.to_out(s, settings, service.get_report(s, report_id))


def events(db: Database, kind: str) -> int:
    with db.session() as s:
        return int(s.scalar(select(func.count()).select_from(Event).where(Event.kind == kind)) or 0)


def test_decision_queues_and_worker_runs_whole_lifecycle(
    db: Database, rsettings: Settings, fake: Fake, decided_case: DecidedCase
) -> None:
    server, _ = fake
    case = decided_case(media_count=2, hash_only=1)
    report = only_report(db)
    assert report.status == "queued"
    assert report.case_id == case.id
    assert report.file_count == 3
    assert events(db, "report.queued") == 1
    assert server.requests == []  # nothing leaves before the worker runs

    counts = worker(db, rsettings).run_once()
    assert counts["sent"] == 1

    assert server.submits() == 1
    assert server.calls("upload") == 2  # the hash-only file is not uploaded
    assert server.calls("fileinfo") == 2
    assert server.calls("finish") == 1
    view = out(db, rsettings, report.id)
    assert view.status == "sent"
    assert view.external_id in server.reports
    assert server.reports[view.external_id].finished
    assert [s.step for s in view.steps] == [
        "submit",
        "upload",
        "fileinfo",
        "upload",
        "fileinfo",
        "finish",
    ]
    root = etree.fromstring(server.reports[view.external_id].xml)
    assert root.findtext("reporter/companyTemplate") == "Example Social"
    assert root.findtext("personOrUserReported/espIdentifier") == "acct-1"
    assert "hash only" in (root.findtext("additionalInfo") or "")
    details = [etree.fromstring(x) for x in server.reports[view.external_id].file_details.values()]
    assert {d.findtext("industryClassification") for d in details} == {"A1"}
    assert all(d.find("originalFileHash") is not None for d in details)
    assert events(db, "report.sent") == 1
    assert events(db, "cybertipline.report.delivered") == 1


def test_label_that_does_not_call_for_a_report_queues_nothing(
    db: Database, decided_case: DecidedCase
) -> None:
    decided_case(label="non_consensual_imagery")
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Report)) == 0


def test_a_case_is_never_reported_twice(
    db: Database, rsettings: Settings, decided_case: DecidedCase
) -> None:
    case = decided_case()
    first = only_report(db).id
    with db.session() as s:
        again = service.queue_for_case(s, rsettings, case, actor=SYSTEM)
        assert again.id == first
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(ReportCase)) == 1
        assert s.scalar(select(func.count()).select_from(OutboxItem)) >= 1
        assert (
            s.scalar(
                select(func.count()).select_from(OutboxItem).where(OutboxItem.key.like("report:%"))
            )
            == 1
        )


@pytest.mark.parametrize(
    ("kind", "status", "words"),
    [("status", 503, "temporary failure"), ("timeout", 0, "did not answer"), ("garbage", 0, "")],
)
def test_temporary_failures_retry_then_succeed(
    db: Database,
    rsettings: Settings,
    fake: Fake,
    decided_case: DecidedCase,
    kind: str,
    status: int,
    words: str,
) -> None:
    server, _ = fake
    decided_case()
    server.add_fault(kind, status=status or 503, path="/submit", seconds=2.0)
    w = worker(db, rsettings)
    assert w.run_once(limit=1)["retrying"] == 1
    report = only_report(db)
    assert report.status == "retrying"
    assert words in (report.last_error or "")
    assert w.run_once(limit=1)["sent"] == 1
    assert only_report(db).status == "sent"
    # A submit that timed out may still create an (unfinished) report at NCMEC later; only
    # one report is ever finished.
    finished = [r for r in server.reports.values() if r.finished]
    assert len(finished) == 1


def test_slow_answers_within_the_timeout_succeed(
    db: Database, rsettings: Settings, fake: Fake, decided_case: DecidedCase
) -> None:
    server, _ = fake
    decided_case()
    server.add_fault("slow", path="/upload", seconds=0.3)
    assert worker(db, rsettings).run_once(limit=1)["sent"] == 1
    assert only_report(db).status == "sent"


def test_refusal_stops_with_the_reason_and_retry_resumes(
    db: Database, rsettings: Settings, fake: Fake, decided_case: DecidedCase, reviewer
) -> None:  # type: ignore[no-untyped-def]
    server, _ = fake
    decided_case()
    server.add_fault("status", status=400, path="/fileinfo")
    w = worker(db, rsettings)
    assert w.run_once(limit=1)["failed"] == 1
    report = only_report(db)
    assert report.status == "failed"
    assert "Validation failed" in (report.last_error or "")
    assert "HTTP 400" in (report.last_error or "")
    assert events(db, "report.refused") == 1
    assert w.run_once(limit=1)["claimed"] == 0  # stopped: not retried by itself

    with db.session() as s:
        service.retry(s, rsettings, report.id, actor=SYSTEM)
    assert w.run_once(limit=1)["sent"] == 1
    assert server.submits() == 1  # resumed after the upload: same report at NCMEC
    assert server.calls("upload") == 1
    assert only_report(db).status == "sent"


class Crash(BaseException):
    """The worker process dying (not an error the outbox catches)."""


def test_crash_between_upload_and_finish_resumes_without_duplicate(
    db: Database, rsettings: Settings, fake: Fake, decided_case: DecidedCase
) -> None:
    server, _ = fake
    decided_case(media_count=2)
    report_id = only_report(db).id

    def crash_after_last_upload(step: str, index: int | None) -> None:
        if step == "upload" and index == 1:
            raise Crash

    def crashing(item: OutboxItem) -> None:
        delivery.deliver(
            db, rsettings, int(item.payload["report_id"]), after_step=crash_after_last_upload
        )

    first = worker(db, rsettings, overrides={"cybertipline.report": crashing})
    with pytest.raises(Crash):
        first.run_once(limit=1)
    assert server.calls("upload") == 2
    assert server.calls("finish") == 0
    with db.session() as s:
        item = jobs_repository.get_by_key(s, service.outbox_key(report_id))
        assert item is not None
        assert item.status == "sending"  # the dead worker's lease

    later = utcnow() + timedelta(seconds=rsettings.outbox_lease_seconds + 5)
    second = worker(db, rsettings, clock=lambda: later)
    assert second.run_once(limit=1)["sent"] == 1
    assert server.submits() == 1
    assert server.calls("upload") == 2
    assert server.calls("fileinfo") == 2
    assert server.calls("finish") == 1
    assert len(server.reports) == 1
    assert only_report(db).status == "sent"


def test_missing_configuration_waits_then_sends(
    db: Database, rsettings: Settings, fake: Fake, decided_case: DecidedCase
) -> None:
    server, _ = fake
    incomplete = rsettings.model_copy(update={"reporter_email": "", "cybertipline_username": ""})
    decided_case(settings_=incomplete)
    w = worker(db, incomplete)
    assert w.run_once(limit=1)["retrying"] == 1
    report = only_report(db)
    assert "SHIELDWALL_REPORTER_EMAIL" in (report.last_error or "")
    assert "SHIELDWALL_CYBERTIPLINE_USERNAME" in (report.last_error or "")
    assert server.requests == []
    assert worker(db, rsettings).run_once(limit=1)["sent"] == 1


def test_gives_up_after_the_configured_days(
    db: Database, rsettings: Settings, fake: Fake, decided_case: DecidedCase
) -> None:
    server, _ = fake
    decided_case()
    for _ in range(3):
        server.add_fault("status", status=500, path="/submit")
    later = utcnow() + timedelta(days=rsettings.reporting_give_up_days + 1)
    assert worker(db, rsettings).run_once(limit=1)["retrying"] == 1
    assert worker(db, rsettings, clock=lambda: later).run_once(limit=1)["dead"] == 1
    view = out(db, rsettings, only_report(db).id)
    assert view.delivery_status == "dead"
    assert "given up" in view.status_words


def test_hash_only_case_is_reported_without_upload(
    db: Database, rsettings: Settings, fake: Fake, decided_case: DecidedCase
) -> None:
    server, _ = fake
    decided_case(media_count=0, hash_only=2)
    assert worker(db, rsettings).run_once(limit=1)["sent"] == 1
    assert server.calls("upload") == 0
    assert server.calls("finish") == 1
    view = out(db, rsettings, only_report(db).id)
    assert view.files_held == 0
    assert view.file_count == 2


def test_retract_before_sending_never_sends(
    db: Database, rsettings: Settings, fake: Fake, decided_case: DecidedCase
) -> None:
    server, _ = fake
    decided_case()
    report_id = only_report(db).id
    with db.session() as s:
        service.retract(s, rsettings, report_id, actor=SYSTEM)
    assert worker(db, rsettings).run_once(limit=1)["claimed"] == 0
    assert server.requests == []
    assert only_report(db).status == "retracted"
    assert events(db, "report.retracted") == 1


def test_retract_submitted_unfinished_calls_ncmec_and_finished_is_refused(
    db: Database, rsettings: Settings, fake: Fake, decided_case: DecidedCase
) -> None:
    server, _ = fake
    decided_case("post-1")
    server.add_fault("status", status=400, path="/upload")
    worker(db, rsettings).run_once(limit=1)
    report = only_report(db)
    assert report.external_id is not None
    with db.session() as s:
        service.retract(s, rsettings, report.id, actor=SYSTEM)
    assert server.reports[report.external_id].retracted
    assert server.calls("retract") == 1

    decided_case("post-2", account="acct-2")
    worker(db, rsettings).run_once(limit=1)
    with db.session() as s:
        sent = s.scalars(select(Report).where(Report.status == "sent")).one()
        with pytest.raises(Conflict, match="contact NCMEC"):
            service.retract(s, rsettings, sent.id, actor=SYSTEM)


def test_grouping_by_user_bundles_cases_into_one_report(
    db: Database, rsettings: Settings, fake: Fake, decided_case: DecidedCase
) -> None:
    server, _ = fake
    grouped = rsettings.model_copy(update={"reporting_group_by_user": True})
    decided_case("post-1", settings_=grouped)
    decided_case("post-2", settings_=grouped)
    decided_case("post-3", account="acct-other", settings_=grouped)
    with db.session() as s:
        reports = list(s.scalars(select(Report).order_by(Report.id)))
        assert [r.case_count for r in reports] == [2, 1]
        assert [r.file_count for r in reports] == [2, 1]
    counts = worker(db, grouped).run_once()
    assert counts["sent"] == 2
    assert server.submits() == 2
    assert server.calls("upload") == 3
