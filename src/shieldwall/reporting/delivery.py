"""The outbox handlers that send reports, step by step, resumably.

:func:`deliver` is one attempt at one report:

1. In a short transaction: lock the report, stop if it is sent or retracted, mark it
   ``sending``, read its sealed data and the steps already done.
2. Check the configuration: something missing is a temporary failure (retried until the
   give-up age), so fixing a setting sends reports already queued.
3. The destination runs its lifecycle through a :class:`StepLog`: each completed step is
   committed (a ``report_steps`` row, and for ``submit`` the NCMEC report id on the report)
   before the next starts; a step already done is skipped. A worker killed between two
   steps therefore resumes at the next one — after an upload and before finish it sends the
   file details or ``/finish`` only, and never submits a second report.
4. The outcome: ``sent``; or a refusal (4xx, an invalid document) → ``failed`` with the
   reason in plain words and :class:`PermanentFailure`; or a temporary failure (5xx,
   timeout, unreachable) → ``retrying`` and :class:`RetryLater` (capped exponential
   backoff, up to ``reporting_give_up_days``).

What cannot be made exactly-once: a worker killed after NCMEC accepted ``/submit`` but
before the report id was committed submits again on resume (the first report stays
unfinished at NCMEC); a worker killed mid-upload uploads that file again into the same
report. docs/reporting.md says so.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from datetime import timedelta

import httpx

from shieldwall.audit import service as audit
from shieldwall.config import Settings
from shieldwall.db.base import utcnow
from shieldwall.db.engine import Database
from shieldwall.integrations.cybertipline.client import Refused, Unavailable
from shieldwall.integrations.cybertipline.documents import ReportInvalid
from shieldwall.integrations.cybertipline.model import FileDetails, ReportData
from shieldwall.jobs.models import OutboxItem
from shieldwall.jobs.outbox import Handler, PermanentFailure, RetryLater
from shieldwall.reporting import destinations, repository, service
from shieldwall.reporting.models import ReportStep
from shieldwall.reporting.schemas import ReportStatus

__all__ = ["StepLog", "deliver", "give_up_after", "report_handler"]

log = logging.getLogger(__name__)
ACTOR = "system:reporting"
#: Test seam: called after every recorded step with (step, file_index).
AfterStep = Callable[[str, int | None], None]


class StepLog:
    """The :class:`~shieldwall.reporting.destinations.Steps` a destination runs through."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        report_id: int,
        data: ReportData,
        done: dict[tuple[str, int | None], str],
        after_step: AfterStep | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.report_id = report_id
        self.data = data
        self._done = done
        self._after_step = after_step

    def ref(self, step: str, file_index: int | None = None) -> str | None:
        return self._done.get((step, file_index))

    def done(
        self, step: str, file_index: int | None = None, *, external_ref: str | None = None
    ) -> None:
        now = utcnow()
        with self.db.session() as session:
            session.add(
                ReportStep(
                    report_id=self.report_id,
                    step=step,
                    file_index=file_index,
                    outcome="done",
                    external_ref=external_ref,
                    detail="",
                    at=now,
                )
            )
            if step == "submit" and external_ref:
                report = repository.get(session, self.report_id)
                if report is not None:
                    report.external_id = external_ref
                    report.updated_at = now
        self._done[(step, file_index)] = external_ref or ""
        log.info("report.step_done", extra={"report_id": self.report_id, "step": step})
        if self._after_step is not None:
            self._after_step(step, file_index)

    def read_file(self, file: FileDetails) -> bytes | None:
        """From the evidence vault when the file was preserved there, else from the media
        kept for review; None when neither holds it (purged, or hash-only)."""
        from shieldwall.core.errors import NotFound
        from shieldwall.media import service as media

        with self.db.session() as session:
            if file.evidence_id is not None:
                try:
                    evidence = importlib.import_module("shieldwall.evidence.service")
                    data: bytes = evidence.read_bytes(
                        session, self.settings, file.evidence_id, actor=ACTOR
                    )
                    return data
                except (ModuleNotFoundError, NotFound):
                    pass  # no vault, or it holds no file: try the media kept for review
        with self.db.session() as session:
            if file.media_id is None:
                return None
            try:
                return media.read(session, self.settings, file.media_id)
            except NotFound:
                # purged since the decision: the file is described by its hashes only
                log.warning(
                    "report.file_gone",
                    extra={"report_id": self.report_id, "media_id": file.media_id},
                )
                return None


def _record_failure(
    db: Database, report_id: int, *, status: ReportStatus, message: str, event: str | None
) -> None:
    now = utcnow()
    with db.session() as session:
        report = repository.get(session, report_id, for_update=True)
        if report is None or report.status == ReportStatus.RETRACTED:
            return
        report.status = status.value
        report.last_error = message[:500]
        report.updated_at = now
        session.add(
            ReportStep(
                report_id=report_id,
                step="attempt",
                outcome="failed",
                detail=message[:500],
                at=now,
            )
        )
        if event is not None:
            audit.record(
                session,
                event,
                actor=ACTOR,
                subject=f"report:{report_id}",
                principles=[1],
                payload={"report_id": report_id, "attempts": report.attempts},
            )


def deliver(
    db: Database,
    settings: Settings,
    report_id: int,
    *,
    transport: httpx.BaseTransport | None = None,
    after_step: AfterStep | None = None,
) -> None:
    """One attempt at sending ``report_id``; see the module docstring."""
    now = utcnow()
    with db.session() as session:
        report = repository.get(session, report_id, for_update=True)
        if report is None:
            raise PermanentFailure(f"report {report_id} no longer exists")
        if report.status in (ReportStatus.SENT, ReportStatus.RETRACTED):
            return
        report.status = ReportStatus.SENDING.value
        report.attempts += 1
        report.updated_at = now
        data = service.read_data(settings, report)
        done = {
            (s.step, s.file_index): s.external_ref or ""
            for s in repository.steps(session, report_id)
            if s.outcome == "done"
        }
        name = report.destination
    destination = destinations.get_destination(settings, name)
    if transport is not None and isinstance(destination, destinations.NcmecDestination):
        destination = destinations.NcmecDestination(transport)
    missing = service.missing_fields(settings, name)
    if missing:
        message = "waiting for configuration: " + "; ".join(missing)
        _record_failure(db, report_id, status=ReportStatus.RETRYING, message=message, event=None)
        raise RetryLater(message)
    data = data.model_copy(update={"reporter": service.reporter_from(settings)})
    steps = StepLog(db, settings, report_id, data, done, after_step)
    try:
        destination.deliver(settings, steps)
    except (Refused, ReportInvalid) as exc:
        reason = exc.message if isinstance(exc, Refused) else f"the report is invalid: {exc}"
        _record_failure(
            db, report_id, status=ReportStatus.FAILED, message=reason, event="report.refused"
        )
        raise PermanentFailure(reason[:500]) from None
    except Unavailable as exc:
        _record_failure(
            db, report_id, status=ReportStatus.RETRYING, message=exc.message, event=None
        )
        raise RetryLater(exc.message, retry_after=exc.retry_after) from None
    with db.session() as session:
        report = repository.get(session, report_id, for_update=True)
        if report is None or report.status == ReportStatus.RETRACTED:
            return
        report.status = ReportStatus.SENT.value
        report.sent_at = utcnow()
        report.last_error = None
        report.updated_at = report.sent_at
        audit.record(
            session,
            "report.sent",
            actor=ACTOR,
            subject=f"report:{report_id}",
            principles=[1],
            payload={
                "report_id": report_id,
                "destination": name,
                "case_ids": repository.case_ids(session, report_id),
                "files": report.file_count,
            },
        )
    log.info("report.sent", extra={"report_id": report_id})


def report_handler(db: Database, settings: Settings) -> Handler:
    """The outbox handler for ``cybertipline.report`` and ``hotline.report`` items."""

    def handle(item: OutboxItem) -> None:
        deliver(db, settings, int(item.payload["report_id"]))

    return handle


def give_up_after(settings: Settings) -> timedelta:
    return timedelta(days=settings.reporting_give_up_days)
