"""A database outage (a restart) while a report is being sent: the attempt fails as a
temporary error, and the next one resumes from the last step the database recorded."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from shieldwall.config import Settings
from shieldwall.db.engine import Database
from shieldwall.devtools.fake_cybertipline import FakeCyberTipline
from shieldwall.jobs.models import OutboxItem
from shieldwall.reporting import delivery
from shieldwall.reporting.models import Report
from tests.reporting.conftest import DecidedCase, worker


class Restarting:
    """The real database, except that it is "restarting" while ``down`` is set."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.down = False
        self.sessionmaker = db.sessionmaker

    @contextmanager
    def session(self) -> Iterator[Session]:
        if self.down:
            raise OperationalError("SELECT 1", {}, Exception("the database system is starting up"))
        with self.db.session() as s:
            yield s


def test_outage_after_an_upload_resumes_without_a_second_report(
    db: Database,
    rsettings: Settings,
    fake: tuple[FakeCyberTipline, str],
    decided_case: DecidedCase,
) -> None:
    server, _ = fake
    decided_case(media_count=2)
    flaky = Restarting(db)

    def goes_down_after_first_upload(step: str, index: int | None) -> None:
        if step == "upload" and index == 0:
            flaky.down = True  # the upload of file 2's step record will fail

    def handler(item: OutboxItem) -> None:
        delivery.deliver(
            flaky,  # type: ignore[arg-type]
            rsettings,
            int(item.payload["report_id"]),
            after_step=goes_down_after_first_upload,
        )

    w = worker(db, rsettings, overrides={"cybertipline.report": handler})
    counts = w.run_once(limit=1)
    assert counts["retrying"] == 1  # a temporary failure, not a refusal
    assert server.submits() == 1
    assert server.calls("upload") == 1
    assert server.calls("fileinfo") == 1  # sent, but its step could not be recorded

    flaky.down = False  # the database is back
    assert w.run_once(limit=1)["sent"] == 1
    assert server.submits() == 1  # the recorded submit was not repeated
    assert server.calls("upload") == 2  # nor the recorded upload
    assert server.calls("fileinfo") == 3  # the unrecorded file details were sent again
    assert server.calls("finish") == 1
    assert len(server.reports) == 1
    with db.session() as s:
        report = s.scalars(select(Report)).one()
        assert report.status == "sent"
