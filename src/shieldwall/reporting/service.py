"""Rules for reports: build from decided cases, queue, group, read, retract, retry.

Flushes, never commits. A report is queued in the caller's transaction (the decision's):
a ``reports`` row, its ``report_cases`` row (``case_id`` unique: a case is never reported
twice) and an outbox item (key ``report:<id>``) that a worker sends after commit. The
report's content is sealed at rest (``core.sealing``); rows and events carry ids only.

What a report says comes from the case (its subject, account, signals' media and hashes,
the decision's label) plus what the platform supplied as :class:`ReportContext`; the
reporter block is read from configuration when the report is *sent*, so fixing a setting
fixes reports already queued.
"""

from __future__ import annotations

import importlib
import logging
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from shieldwall.audit import service as audit
from shieldwall.cases import repository as cases_repository
from shieldwall.cases.models import Case
from shieldwall.config import Settings
from shieldwall.core.access import Principal
from shieldwall.core.errors import Conflict, NotFound, ServiceUnavailable
from shieldwall.core.sealing import seal, unseal
from shieldwall.core.taxonomy import INDUSTRY_CLASSIFICATION
from shieldwall.db.base import as_utc, utcnow
from shieldwall.integrations.cybertipline.client import Refused, Unavailable
from shieldwall.integrations.cybertipline.model import (
    FileDetails,
    IncidentType,
    PersonDetails,
    ReportAnnotation,
    ReportData,
    Reporter,
    UserDetails,
)
from shieldwall.jobs import outbox
from shieldwall.jobs import repository as jobs_repository
from shieldwall.jobs.models import OutboxStatus
from shieldwall.reporting import destinations, repository
from shieldwall.reporting.models import Report, ReportCase, ReportStep
from shieldwall.reporting.models import ReportContext as ReportContextRow
from shieldwall.reporting.schemas import (
    STATUS_WORDS,
    STEP_WORDS,
    STORED,
    ReportContext,
    ReportOut,
    ReportStatus,
    StepOut,
)

__all__ = [
    "build_data",
    "get_report",
    "list_reports",
    "missing_fields",
    "missing_for_case",
    "outbox_key",
    "queue_for_case",
    "read_data",
    "report_for_case",
    "reporter_from",
    "retract",
    "retry",
    "set_context",
    "stored_context",
    "to_out",
]

log = logging.getLogger(__name__)
ACTOR = "system:reporting"
MEDIA_EXTENSIONS = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/gif": ".gif",
    "image/webp": ".webp",
    "video/mp4": ".mp4",
}
_INCIDENT_BY_LABEL: dict[str, IncidentType] = {
    "grooming": IncidentType.ONLINE_ENTICEMENT,
    "sextortion": IncidentType.ONLINE_ENTICEMENT,
}
_ANNOTATION_BY_LABEL: dict[str, ReportAnnotation] = {
    "sextortion": ReportAnnotation.SEXTORTION,
    "solicitation": ReportAnnotation.CSAM_SOLICITATION,
}


def outbox_key(report_id: int) -> str:
    return f"report:{report_id}"


def _aad(case_id: int) -> bytes:
    return f"report-data:case:{case_id}".encode()


def read_data(settings: Settings, report: Report) -> ReportData:
    plain = unseal(report.data_sealed, settings.resolved_keyring(), aad=_aad(report.case_id))
    return ReportData.model_validate_json(plain)


def _write_data(settings: Settings, report: Report, data: ReportData) -> None:
    body = data.model_dump_json().encode()
    report.data_sealed = seal(body, settings.resolved_keyring(), aad=_aad(report.case_id))
    report.file_count = len(data.files)


# ---- building ------------------------------------------------------------------------------


def reporter_from(settings: Settings) -> Reporter | None:
    """The reporter block from configuration; None while company or e-mail is missing."""
    if not settings.reporter_company.strip() or not settings.reporter_email.strip():
        return None
    contact = None
    if settings.reporter_contact_name or settings.reporter_contact_email:
        first, _, last = settings.reporter_contact_name.strip().partition(" ")
        contact = PersonDetails(
            first_name=first or None,
            last_name=last or None,
            email=settings.reporter_contact_email or None,
            phone=settings.reporter_contact_phone or None,
        )
    return Reporter(
        company=settings.reporter_company.strip(),
        reporting_email=settings.reporter_email.strip(),
        reporting_first_name=settings.reporter_first_name or None,
        reporting_last_name=settings.reporter_last_name or None,
        contact=contact,
        terms_of_service=settings.reporter_terms_of_service_url or None,
        legal_url=settings.reporter_legal_url or None,
    )


def _files_of(session: Session, case: Case, context: ReportContext | None) -> list[FileDetails]:
    label = case.label if case.label in {c.value for c in INDUSTRY_CLASSIFICATION} else None
    annotations = context.file_annotations if context else ()
    public = context.publicly_available if context else None
    by_media: dict[int, set[tuple[str, str]]] = {}
    hash_only: list[tuple[tuple[str, str], ...]] = []
    for signal in cases_repository.signals_of(session, case.id):
        hashes = {(str(k), str(v)) for k, v in (signal.hashes or [])}
        if signal.media_id is not None:
            by_media.setdefault(signal.media_id, set()).update(hashes)
        elif hashes:
            entry = tuple(sorted(hashes))
            if entry not in hash_only:
                hash_only.append(entry)
    if case.media_id is not None:
        by_media.setdefault(case.media_id, set())
    files = []
    for media_id, hashes in by_media.items():
        files.append(
            FileDetails(
                file_name=f"case-{case.id}-file-{media_id}{_extension(session, media_id)}",
                industry_classification=label,
                annotations=annotations,
                publicly_available=public,
                original_hashes=tuple(sorted(hashes)),
                case_id=case.id,
                media_id=media_id,
            )
        )
    for n, hashes_only in enumerate(hash_only, 1):
        files.append(
            FileDetails(
                file_name=f"case-{case.id}-hash-only-{n}",
                viewed_by_esp=False,
                industry_classification=label,
                annotations=annotations,
                original_hashes=hashes_only,
                case_id=case.id,
            )
        )
    return files


def _extension(session: Session, media_id: int) -> str:
    from shieldwall.media import repository as media_repository

    try:
        obj = media_repository.get(session, media_id)
    except Exception:
        return ""
    return MEDIA_EXTENSIONS.get(getattr(obj, "media_type", None) or "", "")


def _hash_only_note(files: list[FileDetails]) -> str | None:
    lines = []
    for file in files:
        if file.media_id is None and file.evidence_id is None:
            hashes = ", ".join(f"{k.upper()} {v}" for k, v in file.original_hashes)
            lines.append(f"{file.file_name}: matched by hash only, no copy held ({hashes})")
    if not lines:
        return None
    return "\n".join(lines)[:3000]


def build_data(
    session: Session, settings: Settings, case: Case, context: ReportContext | None = None
) -> ReportData:
    """What a report about ``case`` says (the reporter is added when it is sent)."""
    signals = cases_repository.signals_of(session, case.id)
    now = utcnow()
    times = [t for t in (as_utc(s.received_at) for s in signals) if t is not None]
    incident_at = min(times) if times else (as_utc(case.detected_at) or now)
    incident_at = min(incident_at, now)
    label = case.label or ""
    account = case.subject_ref if case.subject_kind == "account" else case.account_ref
    ctx = context or ReportContext()
    user = None
    if account or ctx.screen_name or ctx.ip_capture_events:
        user = UserDetails(
            esp_identifier=account,
            esp_service=settings.reporter_company.strip()[:200] or None,
            screen_name=ctx.screen_name,
            display_names=ctx.display_names,
            profile_urls=ctx.profile_urls,
            ip_capture_events=ctx.ip_capture_events,
            device_ids=ctx.device_ids,
            estimated_location=ctx.estimated_location,
            person=ctx.person,
        )
    files = _files_of(session, case, context)
    annotation = _ANNOTATION_BY_LABEL.get(label)
    return ReportData(
        incident_type=_INCIDENT_BY_LABEL.get(label, IncidentType.CHILD_PORNOGRAPHY),
        incident_at=incident_at,
        annotations=(annotation,) if annotation else (),
        reported_user=user,
        intended_recipients=ctx.intended_recipients,
        victims=ctx.victims,
        urls=ctx.urls,
        files=tuple(files),
        additional_info=_hash_only_note(files),
        user_country=ctx.user_country,
        content_country=ctx.content_country,
    )


# ---- what is missing -----------------------------------------------------------------------


def missing_fields(
    settings: Settings, destination_name: str, data: ReportData | None = None
) -> list[str]:
    """Every required field missing before a report can be sent, in plain words."""
    out: list[str] = []
    if not settings.reporter_company.strip():
        out.append("the reporting company's name (SHIELDWALL_REPORTER_COMPANY)")
    if not settings.reporter_email.strip():
        out.append("the reporting person's e-mail address (SHIELDWALL_REPORTER_EMAIL)")
    try:
        destination = destinations.get_destination(settings, destination_name)
    except KeyError as exc:
        out.append(str(exc.args[0]))
    else:
        out.extend(destination.missing(settings))
    if data is not None and not data.files and data.reported_user is None:
        out.append("anything to report: the case has no file, hash or account of the user reported")
    return out


def missing_for_case(session: Session, settings: Settings, case: Case) -> list[str]:
    """For the case page: what a report about this case would lack (its report's
    destination when one exists, else the route's)."""
    report = repository.for_case(session, case.id)
    data = (
        read_data(settings, report)
        if report is not None
        else build_data(session, settings, case, stored_context(session, settings, case.id))
    )
    name = (
        report.destination
        if report is not None
        else destinations.route(
            settings, user_country=data.user_country, content_country=data.content_country
        )
    )
    return missing_fields(settings, name, data)


def calls_for_report(settings: Settings, case: Case) -> bool:
    return (
        case.outcome == "violating"
        and case.appeal_of_case_id is None
        and (case.label or "") in settings.reporting_labels
    )


# ---- queueing ------------------------------------------------------------------------------


def _preserve_evidence(
    session: Session, settings: Settings, report: Report, data: ReportData
) -> ReportData:
    """Hand each held file to the evidence vault, when that module is installed.

    SEAM: ``shieldwall.evidence.service.preserve(session, settings, *, case_id, media_id,
    report_id, data) -> EvidenceItem`` (issue 5, built in parallel). Without it, files are
    read from the media kept for review when the report is sent.
    """
    try:
        evidence = importlib.import_module("shieldwall.evidence.service")
    except ModuleNotFoundError:
        return data
    preserve = getattr(evidence, "preserve", None)
    if preserve is None:
        return data
    files = []
    for file in data.files:
        if file.media_id is not None and file.evidence_id is None and file.case_id is not None:
            item = preserve(
                session,
                settings,
                case_id=file.case_id,
                media_id=file.media_id,
                report_id=report.id,
                data={"destination": report.destination, "file_name": file.file_name},
            )
            file = file.model_copy(update={"evidence_id": int(item.id)})
        files.append(file)
    return data.model_copy(update={"files": tuple(files)})


def _context_aad(case_id: int) -> bytes:
    return f"report-context:case:{case_id}".encode()


def stored_context(session: Session, settings: Settings, case_id: int) -> ReportContext | None:
    """The context the platform supplied for ``case_id``, if any."""
    row = repository.context_of(session, case_id)
    if row is None:
        return None
    plain = unseal(row.data_sealed, settings.resolved_keyring(), aad=_context_aad(case_id))
    return ReportContext.model_validate_json(plain, context=STORED)


def set_context(
    session: Session,
    settings: Settings,
    case_id: int,
    context: ReportContext,
    *,
    actor: Principal | str,
) -> Report | None:
    """Store what the platform knows about ``case_id`` for its report (replacing what was
    there). A report already queued for this case alone (not yet sending) is rebuilt with
    it; one being sent or sent is not changed (:class:`Conflict`). Returns that report."""
    case = cases_repository.get_case(session, case_id)
    if case is None:
        raise NotFound(f"case {case_id} does not exist", case_id=case_id)
    report = repository.for_case(session, case_id)
    if report is not None:
        report = get_report(session, report.id, for_update=True)
        if report.status != ReportStatus.QUEUED or report.case_count > 1:
            raise Conflict(
                f"case {case_id}'s report {report.id} is {report.status}"
                + (" and covers several cases" if report.case_count > 1 else "")
                + "; its content can no longer change",
                report_id=report.id,
            )
    now = utcnow()
    sealed = seal(
        context.model_dump_json().encode(), settings.resolved_keyring(), aad=_context_aad(case_id)
    )
    row = repository.context_of(session, case_id)
    who = actor.actor if isinstance(actor, Principal) else actor
    if row is None:
        session.add(
            ReportContextRow(case_id=case_id, data_sealed=sealed, updated_by=who, updated_at=now)
        )
    else:
        row.data_sealed = sealed
        row.updated_by = who
        row.updated_at = now
    if report is not None:
        data = build_data(session, settings, case, context)
        data = _preserve_evidence(session, settings, report, data)
        _write_data(settings, report, data)
        report.updated_at = now
    session.flush()
    audit.record(
        session,
        "report.context_set",
        actor=actor,
        subject=f"case:{case_id}",
        principles=list(case.principles or [1]),
        payload={"case_id": case_id, "report_id": report.id if report else None},
    )
    return report


def queue_for_case(
    session: Session,
    settings: Settings,
    case: Case,
    *,
    actor: Principal | str,
    context: ReportContext | None = None,
    destination: str | None = None,
) -> Report:
    """Queue the report about ``case`` in the caller's transaction; returns the existing
    report when the case already has one (never two). With ``reporting_group_by_user``, a
    queued report about the same user (same destination) takes the case instead."""
    existing = repository.for_case(session, case.id)
    if existing is not None:
        return existing
    if context is None:
        context = stored_context(session, settings, case.id)
    data = build_data(session, settings, case, context)
    name = destination or destinations.route(
        settings, user_country=data.user_country, content_country=data.content_country
    )
    try:
        dest = destinations.get_destination(settings, name)
    except KeyError:
        log.error("reporting.unknown_destination", extra={"case_id": case.id})
        name = "ncmec"
        dest = destinations.get_destination(settings, name)
    account = case.subject_ref if case.subject_kind == "account" else case.account_ref
    group_key = f"user:{account}" if settings.reporting_group_by_user and account else None
    now = utcnow()
    principles = list(case.principles or [1])
    if group_key is not None:
        report = repository.open_group(session, name, group_key, ReportStatus.QUEUED.value)
        if report is not None:
            merged = read_data(settings, report)
            extra = _preserve_evidence(session, settings, report, data)
            merged = merged.model_copy(
                update={
                    "files": merged.files + extra.files,
                    "additional_info": _hash_only_note(list(merged.files + extra.files)),
                    "incident_at": min(merged.incident_at, data.incident_at),
                }
            )
            _write_data(settings, report, merged)
            report.case_count += 1
            report.updated_at = now
            session.add(ReportCase(report_id=report.id, case_id=case.id, added_at=now))
            session.flush()
            audit.record(
                session,
                "report.case_added",
                actor=actor,
                subject=f"report:{report.id}",
                principles=principles,
                payload={"case_id": case.id, "report_id": report.id, "files": len(data.files)},
            )
            return report
    report = Report(
        destination=name,
        environment=dest.environment(settings),
        status=ReportStatus.QUEUED.value,
        case_id=case.id,
        group_key=group_key,
        data_sealed=b"",
        file_count=0,
        case_count=1,
        attempts=0,
        queued_by=actor.actor if isinstance(actor, Principal) else actor,
        created_at=now,
        updated_at=now,
    )
    _write_data(settings, report, data)
    session.add(report)
    session.flush()
    session.add(ReportCase(report_id=report.id, case_id=case.id, added_at=now))
    data = _preserve_evidence(session, settings, report, data)
    _write_data(settings, report, data)
    session.flush()
    window = settings.reporting_group_window_minutes if group_key else 0
    outbox.enqueue(
        session,
        kind=dest.kind,
        key=outbox_key(report.id),
        payload={"report_id": report.id},
        not_before=now + timedelta(minutes=window) if window else None,
        subject=f"report:{report.id}",
        principles=principles,
    )
    audit.record(
        session,
        "report.queued",
        actor=actor,
        subject=f"report:{report.id}",
        principles=principles,
        payload={
            "case_id": case.id,
            "report_id": report.id,
            "destination": name,
            "files": len(data.files),
            "files_held": sum(1 for f in data.files if f.media_id or f.evidence_id),
        },
    )
    return report


# ---- reading -------------------------------------------------------------------------------


def get_report(session: Session, report_id: int, *, for_update: bool = False) -> Report:
    report = repository.get(session, report_id, for_update=for_update)
    if report is None:
        raise NotFound(f"report {report_id} does not exist", report_id=report_id)
    return report


def report_for_case(session: Session, case_id: int) -> Report | None:
    return repository.for_case(session, case_id)


def _step_out(step: ReportStep) -> StepOut:
    words = STEP_WORDS.get(step.step, step.step)
    if step.file_index is not None:
        words = f"{words} (file {step.file_index + 1})"
    if step.outcome != "done":
        words = f"{words} failed: {step.detail}" if step.detail else f"{words} failed"
    return StepOut(
        step=step.step,
        file_index=step.file_index,
        outcome=step.outcome,
        external_ref=step.external_ref,
        detail=step.detail,
        at=step.at,
        words=words,
    )


def to_out(
    session: Session, settings: Settings, report: Report, *, with_steps: bool = True
) -> ReportOut:
    item = jobs_repository.get_by_key(session, outbox_key(report.id))
    try:
        data: ReportData | None = read_data(settings, report)
    except Exception:
        data = None
    missing = (
        missing_fields(settings, report.destination, data)
        if report.status not in (ReportStatus.SENT, ReportStatus.RETRACTED)
        else []
    )
    words = STATUS_WORDS.get(report.status, report.status)
    if item is not None and item.status == OutboxStatus.DEAD.value:
        words = "given up after retrying for the configured time; retry it to send again"
    return ReportOut(
        id=report.id,
        destination=report.destination,
        environment=report.environment,
        status=report.status,
        status_words=words,
        case_id=report.case_id,
        case_ids=repository.case_ids(session, report.id),
        external_id=report.external_id,
        file_count=report.file_count,
        files_held=sum(1 for f in data.files if f.media_id or f.evidence_id) if data else 0,
        attempts=report.attempts,
        last_error=report.last_error,
        delivery_status=item.status if item is not None else None,
        next_attempt_at=item.next_attempt_at
        if item is not None and item.status == OutboxStatus.PENDING.value
        else None,
        missing=missing,
        created_at=report.created_at,
        sent_at=report.sent_at,
        retracted_at=report.retracted_at,
        steps=[_step_out(s) for s in repository.steps(session, report.id)] if with_steps else [],
    )


def list_reports(
    session: Session,
    settings: Settings,
    *,
    status: str | None = None,
    destination: str | None = None,
    case_id: int | None = None,
    before_id: int | None = None,
    limit: int = 50,
) -> tuple[list[ReportOut], int | None]:
    rows = repository.list_reports(
        session,
        status=status,
        destination=destination,
        case_id=case_id,
        before_id=before_id,
        limit=limit + 1,
    )
    page = list(rows)[:limit]
    more = len(rows) > limit
    out = [to_out(session, settings, r, with_steps=False) for r in page]
    return out, (page[-1].id if more and page else None)


# ---- retract and retry ---------------------------------------------------------------------


def _step_done(session: Session, report_id: int, step: str) -> bool:
    return any(s.step == step and s.outcome == "done" for s in repository.steps(session, report_id))


def retract(session: Session, settings: Settings, report_id: int, *, actor: Principal) -> Report:
    """Withdraw a report. Not yet submitted: it is simply never sent. Submitted to NCMEC
    but not finished: ``/retract`` is called. Finished (or a package written): refused
    with :class:`Conflict` — NCMEC retracts finished reports only by contacting it."""
    report = get_report(session, report_id, for_update=True)
    if report.status == ReportStatus.RETRACTED:
        raise Conflict(f"report {report.id} is already retracted", report_id=report.id)
    if report.status == ReportStatus.SENT or _step_done(session, report.id, "finish"):
        raise Conflict(
            f"report {report.id} was finished (NCMEC id {report.external_id}); the reporting "
            "API cannot retract a finished report — contact NCMEC directly",
            report_id=report.id,
        )
    if _step_done(session, report.id, "package"):
        raise Conflict(
            f"report {report.id}'s package was already written; tell {report.destination} "
            "directly that it is withdrawn",
            report_id=report.id,
        )
    now = utcnow()
    if report.external_id and report.destination == "ncmec":
        dest = destinations.get_destination(settings, "ncmec")
        try:
            dest.retract(settings, report.external_id)  # type: ignore[attr-defined]
        except Refused as exc:
            raise Conflict(exc.message, report_id=report.id) from None
        except Unavailable as exc:
            raise ServiceUnavailable(exc.message) from None
    report.status = ReportStatus.RETRACTED.value
    report.retracted_at = now
    report.updated_at = now
    session.add(
        ReportStep(
            report_id=report.id,
            step="retract",
            outcome="done",
            external_ref=report.external_id,
            detail="",
            at=now,
        )
    )
    item = jobs_repository.get_by_key(session, outbox_key(report.id))
    if item is not None and item.status == OutboxStatus.PENDING.value:
        item.status = OutboxStatus.FAILED.value
        item.last_error = "retracted before it was sent"
        item.finished_at = now
    session.flush()
    audit.record(
        session,
        "report.retracted",
        actor=actor,
        subject=f"report:{report.id}",
        principles=[1],
        payload={"report_id": report.id, "submitted": bool(report.external_id)},
    )
    return report


def retry(session: Session, settings: Settings, report_id: int, *, actor: Principal) -> Report:
    """Send a refused or given-up report again (after someone fixed the cause); resumes
    from the last completed step."""
    report = get_report(session, report_id, for_update=True)
    item = jobs_repository.get_by_key(session, outbox_key(report.id))
    stuck = item is None or item.status in (OutboxStatus.FAILED.value, OutboxStatus.DEAD.value)
    if report.status in (ReportStatus.SENT, ReportStatus.RETRACTED) or not stuck:
        raise Conflict(
            f"report {report.id} is {report.status}; only a refused or given-up report can "
            "be retried",
            report_id=report.id,
        )
    now = utcnow()
    if item is None:
        dest = destinations.get_destination(settings, report.destination)
        outbox.enqueue(
            session,
            kind=dest.kind,
            key=outbox_key(report.id),
            payload={"report_id": report.id},
            subject=f"report:{report.id}",
        )
    else:
        jobs_repository.requeue(session, item, now=now)
    report.status = ReportStatus.QUEUED.value
    report.last_error = None
    report.updated_at = now
    session.flush()
    audit.record(
        session,
        "report.retry_requested",
        actor=actor,
        subject=f"report:{report.id}",
        principles=[1],
        payload={"report_id": report.id},
    )
    return report


def summary(report: Report) -> dict[str, Any]:
    """Ids and states for logs and events."""
    return {"report_id": report.id, "destination": report.destination, "status": report.status}
