"""Rules for the evidence vault. Flushes, never commits.

When a case is decided violating (:mod:`shieldwall.evidence.hooks`) or a report is queued
(:mod:`shieldwall.reporting.service` calls :func:`preserve`), what the case knew is kept as
an :class:`EvidenceItem` per case and piece of media (one per case without media):

* the content bytes, copied from the media kept for review (:func:`shieldwall.media.service.
  read`) and sealed with :mod:`shieldwall.core.sealing` into ``<data_dir>/evidence/<uuid>``
  (associated data ``<uuid>:content``); a hash-only case holds no file and says so;
* a JSON document of what the case and its reports knew, sealed into the row
  (associated data ``<uuid>:data``);
* the SHA-256 of both plaintexts, checked on every read and by :func:`verify`.

Retention: ``evidence_retention_days`` (default 365, the REPORT Act of 2024) from the
decision, extended to that many days from the report when one uses the item
(:func:`attach_report`); never shortened. A legal hold (:func:`place_hold`) blocks
:func:`purge_expired` until released. Reads (:func:`read_bytes`, :func:`read_data`) need
``evidence:read`` (or a system actor) and each writes an ``evidence.read`` event.

Crash safety: the file is written and synced before its row (a crash leaves at worst a
file without a row, which the purge's orphan sweep removes after an hour); a purge deletes
rows in the caller's transaction and the files only after it commits.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid as uuidlib
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shieldwall.audit import service as audit
from shieldwall.cases import repository as cases_repository
from shieldwall.cases.models import Case
from shieldwall.config import Settings
from shieldwall.core.access import Principal, Scope
from shieldwall.core.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    ShieldwallError,
)
from shieldwall.core.sealing import SealError, rewrap, seal, unseal
from shieldwall.db import files
from shieldwall.db.base import as_utc, utcnow
from shieldwall.evidence import repository
from shieldwall.evidence.models import EvidenceHold, EvidenceItem
from shieldwall.evidence.schemas import (
    MAX_REASON,
    NO_FILE_TEXT,
    EvidenceOut,
    FileState,
    HoldOut,
    NoFileReason,
    PurgeResult,
    VerifyProblem,
    VerifyResult,
)

__all__ = [
    "EvidenceUnreadable",
    "NoFileHeld",
    "attach_report",
    "describe",
    "evidence_dir",
    "for_case",
    "get",
    "list_items",
    "objects_by_key",
    "place_hold",
    "preserve",
    "purge_expired",
    "read_bytes",
    "read_data",
    "release_hold",
    "rewrap_all",
    "verify",
]

log = logging.getLogger(__name__)

SYSTEM_ACTOR = "system:evidence"
PRINCIPLES = (1,)
BATCH = 500
MAX_DATA_BYTES = 1_000_000
DOCUMENT_FORMAT = 1


class EvidenceUnreadable(ShieldwallError):
    """An item's file is missing, was tampered with, or is sealed under a master key this
    server does not hold. Nothing of it is returned."""

    status = 500
    slug = "evidence-unreadable"
    title = "Evidence cannot be read"


class NoFileHeld(NotFound):
    """The item exists but holds no file (a hash-only case, or media already gone)."""


# ---- files ---------------------------------------------------------------------------------


def evidence_dir(settings: Settings) -> Path:
    return settings.data_dir / "evidence"


def _path(settings: Settings, item_uuid: str) -> Path:
    return evidence_dir(settings) / item_uuid


def _content_aad(item_uuid: str) -> bytes:
    return f"{item_uuid}:content".encode("ascii")


def _data_aad(item_uuid: str) -> bytes:
    return f"{item_uuid}:data".encode("ascii")


# ---- the report-data document --------------------------------------------------------------


def _canonical(document: dict[str, Any]) -> bytes:
    return json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    ).encode("utf-8")


def _case_snapshot(session: Session, case_id: int) -> dict[str, Any]:
    case = session.get(Case, case_id)
    if case is None:
        raise NotFound(f"no case with id {case_id}", case_id=case_id)
    decision = cases_repository.final_decision(session, case_id)
    signals = [
        {
            "id": s.id,
            "source": s.source,
            "ref": s.ref,
            "labels": list(s.labels or []),
            "principles": list(s.principles or []),
            "summary": s.summary,
            "hashes": s.hashes,
            "media_id": s.media_id,
            "actor": s.actor,
            "received_at": s.received_at.isoformat(),
        }
        for s in cases_repository.signals_of(session, case_id)
    ]
    return {
        "id": case.id,
        "subject_kind": case.subject_kind,
        "subject_ref": case.subject_ref,
        "account_ref": case.account_ref,
        "status": case.status,
        "outcome": case.outcome,
        "label": case.label,
        "labels": list(case.labels or []),
        "sources": list(case.sources or []),
        "principles": list(case.principles or []),
        "detected_at": case.detected_at.isoformat() if case.detected_at else None,
        "decided_at": case.decided_at.isoformat() if case.decided_at else None,
        "decided_by": case.decided_by,
        "decision_id": decision.id if decision is not None else None,
        "appeal_of_case_id": case.appeal_of_case_id,
        "signals": signals,
    }


def _seal_document(settings: Settings, item: EvidenceItem, document: dict[str, Any]) -> None:
    raw = _canonical(document)
    if len(raw) > MAX_DATA_BYTES:
        raise InvalidInput(
            f"the report data to preserve is {len(raw):,} bytes as JSON, more than "
            f"{MAX_DATA_BYTES:,}",
            field="data",
        )
    keyring = settings.resolved_keyring()
    item.data_sealed = seal(raw, keyring, aad=_data_aad(item.uuid))
    item.data_sha256 = hashlib.sha256(raw).hexdigest()


def _open_document(settings: Settings, item: EvidenceItem) -> dict[str, Any]:
    try:
        raw = unseal(item.data_sealed, settings.resolved_keyring(), aad=_data_aad(item.uuid))
    except SealError as exc:
        raise EvidenceUnreadable(
            f"evidence {item.id}: the report data cannot be opened: {exc}", evidence_id=item.id
        ) from None
    if hashlib.sha256(raw).hexdigest() != item.data_sha256:
        raise EvidenceUnreadable(
            f"evidence {item.id}: the report data differs from what was preserved",
            evidence_id=item.id,
        )
    document: dict[str, Any] = json.loads(raw)
    return document


def _entry(data: dict[str, Any], report_id: int | None, now: datetime) -> dict[str, Any]:
    return {"at": now.isoformat(), "report_id": report_id, "data": data}


# ---- preserve ------------------------------------------------------------------------------


def _dedupe_key(case_id: int, media_id: int | None) -> str:
    return f"case:{case_id}:media:{media_id if media_id is not None else 'none'}"


def _fetch_media(
    session: Session, settings: Settings, media_id: int | None
) -> tuple[bytes | None, str | None, NoFileReason | None]:
    """The media's plaintext and type, or why there is none."""
    from shieldwall.media import service as media

    if media_id is None:
        return None, None, NoFileReason.HASH_ONLY
    try:
        data = media.read(session, settings, media_id)
    except media.MediaUnreadable:
        log.error("evidence.media_unreadable", extra={"media_id": media_id})
        return None, None, NoFileReason.MEDIA_UNREADABLE
    except NotFound:
        return None, None, NoFileReason.MEDIA_EXPIRED
    return data, media.get(session, media_id).media_type, None


def _hold_file(settings: Settings, item: EvidenceItem, data: bytes, media_type: str | None) -> None:
    keyring = settings.resolved_keyring()
    files.write_durably(
        _path(settings, item.uuid), seal(data, keyring, aad=_content_aad(item.uuid))
    )
    item.file_state = FileState.HELD.value
    item.no_file_reason = None
    item.content_sha256 = hashlib.sha256(data).hexdigest()
    item.content_size = len(data)
    item.media_type = media_type


def _retention(settings: Settings, since: datetime) -> datetime:
    return since + timedelta(days=settings.evidence_retention_days)


def _actor_ref(actor: Principal | str) -> str:
    return actor.actor if isinstance(actor, Principal) else actor


def preserve(
    session: Session,
    settings: Settings,
    *,
    case_id: int,
    media_id: int | None,
    report_id: int | None = None,
    data: dict[str, Any],
    actor: Principal | str = SYSTEM_ACTOR,
) -> EvidenceItem:
    """Keep what ``case_id`` knew about ``media_id`` (``None``: a hash-only case) as
    evidence, in the caller's transaction; returns the item.

    Idempotent per case and media: a second call returns the same item, appends ``data``
    to its document when it differs from what is there, records ``report_id`` (the first
    one) and extends retention to ``evidence_retention_days`` from now (never shortens).
    Media that cannot be read (expired, unreadable) gives an item that says no file is held;
    a later call fills the file in if the media is readable by then. Events:
    ``evidence.preserved`` or ``evidence.updated``. Raises :class:`NotFound` for an unknown
    case, :class:`InvalidInput` for data that is not JSON-like or over 1 MB.
    """
    if not isinstance(data, dict):
        raise InvalidInput("evidence data must be a JSON object", field="data")
    now = utcnow()
    key = _dedupe_key(case_id, media_id)
    item = repository.by_key(session, key, lock=True)
    if item is None:
        item = _create(session, settings, key, case_id, media_id, report_id, data, actor, now)
        if item is not None:
            return item
        item = repository.by_key(session, key, lock=True)
        assert item is not None  # lost an insert race: the winner's row is committed
    return _update(session, settings, item, media_id, report_id, data, actor, now)


def _create(
    session: Session,
    settings: Settings,
    key: str,
    case_id: int,
    media_id: int | None,
    report_id: int | None,
    data: dict[str, Any],
    actor: Principal | str,
    now: datetime,
) -> EvidenceItem | None:
    document = {
        "format": DOCUMENT_FORMAT,
        "case": _case_snapshot(session, case_id),
        "entries": [_entry(data, report_id, now)],
    }
    item = EvidenceItem(
        uuid=str(uuidlib.uuid4()),
        dedupe_key=key,
        case_id=case_id,
        media_id=media_id,
        report_id=report_id,
        file_state=FileState.NOT_HELD.value,
        key_id=settings.resolved_keyring().current_id.hex(),
        legal_hold=False,
        preserved_by=_actor_ref(actor),
        created_at=now,
        updated_at=now,
        reported_at=now if report_id is not None else None,
        retain_until=_retention(settings, now),
    )
    _seal_document(settings, item, document)
    content, media_type, reason = _fetch_media(session, settings, media_id)
    if content is not None:
        _hold_file(settings, item, content, media_type)  # the file before the row
    else:
        item.no_file_reason = reason.value if reason else None
    try:
        with session.begin_nested():
            session.add(item)
            session.flush()
    except IntegrityError:
        # another transaction preserved the same case and media first (PostgreSQL)
        _path(settings, item.uuid).unlink(missing_ok=True)
        return None
    _event(session, "evidence.preserved", item, actor, file_held=content is not None)
    log.info("evidence.preserved", extra={"evidence_id": item.id, "case_id": case_id})
    return item


def _update(
    session: Session,
    settings: Settings,
    item: EvidenceItem,
    media_id: int | None,
    report_id: int | None,
    data: dict[str, Any],
    actor: Principal | str,
    now: datetime,
) -> EvidenceItem:
    changed: list[str] = []
    if report_id is not None and item.report_id is None:
        item.report_id = report_id
        item.reported_at = now
        changed.append("report")
    document = _open_document(settings, item)
    entries: list[dict[str, Any]] = document.setdefault("entries", [])
    if data and not any(e.get("data") == data and e.get("report_id") == report_id for e in entries):
        entries.append(_entry(data, report_id, now))
        _rekey_if_needed(settings, item)
        _seal_document(settings, item, document)
        changed.append("data")
    if item.file_state != FileState.HELD and media_id is not None:
        content, media_type, _ = _fetch_media(session, settings, media_id)
        if content is not None:
            _rekey_if_needed(settings, item)
            _hold_file(settings, item, content, media_type)
            changed.append("file")
    wanted = _retention(settings, now)
    if item.retain_until < wanted:
        item.retain_until = wanted
        changed.append("retention")
    if changed:
        item.updated_at = now
        session.flush()
        _event(session, "evidence.updated", item, actor, changed=changed)
    return item


def _rekey_if_needed(settings: Settings, item: EvidenceItem) -> None:
    """Before sealing something new into ``item``, bring its other part under the current
    key, so one ``key_id`` is true for both."""
    current = settings.resolved_keyring().current_id.hex()
    if item.key_id == current:
        return
    keyring = settings.resolved_keyring()
    try:
        item.data_sealed = rewrap(item.data_sealed, keyring, aad=_data_aad(item.uuid))
        if item.file_state == FileState.HELD:
            path = _path(settings, item.uuid)
            files.write_durably(
                path, rewrap(path.read_bytes(), keyring, aad=_content_aad(item.uuid))
            )
    except (OSError, SealError) as exc:
        raise EvidenceUnreadable(
            f"evidence {item.id} cannot be re-wrapped: {exc}", evidence_id=item.id
        ) from None
    item.key_id = current


def attach_report(
    session: Session,
    settings: Settings,
    case_id: int,
    report_id: int,
    reported_at: datetime,
    *,
    actor: Principal | str = SYSTEM_ACTOR,
) -> list[EvidenceItem]:
    """A report about ``case_id`` was made at ``reported_at``: every item of the case
    records the report (the first one it gets) and is kept at least
    ``evidence_retention_days`` from ``reported_at``. Event ``evidence.report_attached``."""
    when = as_utc(reported_at)
    assert when is not None
    items = repository.for_case(session, case_id, lock=True)
    wanted = _retention(settings, when)
    touched: list[int] = []
    for item in items:
        changed = False
        if item.report_id is None:
            item.report_id = report_id
            changed = True
        if item.reported_at is None or item.reported_at < when:
            item.reported_at = when
            changed = True
        if item.retain_until < wanted:
            item.retain_until = wanted
            changed = True
        if changed:
            item.updated_at = utcnow()
            touched.append(item.id)
    session.flush()
    if touched:
        audit.record(
            session,
            "evidence.report_attached",
            actor=actor,
            subject=f"case:{case_id}",
            principles=PRINCIPLES,
            payload={"case_id": case_id, "report_id": report_id, "evidence_ids": touched},
        )
    return items


def _event(
    session: Session,
    kind: str,
    item: EvidenceItem,
    actor: Principal | str,
    **extra: Any,
) -> None:
    audit.record(
        session,
        kind,
        actor=actor,
        subject=f"evidence:{item.id}",
        principles=PRINCIPLES,
        payload={
            "evidence_id": item.id,
            "case_id": item.case_id,
            "media_id": item.media_id,
            "report_id": item.report_id,
            **extra,
        },
    )


# ---- reading -------------------------------------------------------------------------------


def _require_reader(actor: Principal | str) -> None:
    if isinstance(actor, str):
        if not actor.startswith("system:"):
            raise PermissionDenied("evidence is read by people with evidence:read or the system")
        return
    if not actor.can(Scope.EVIDENCE_READ):
        raise PermissionDenied(
            "reading evidence needs the evidence:read scope (admins and reviewers)"
        )


def get(session: Session, evidence_id: int, *, lock: bool = False) -> EvidenceItem:
    item = repository.get(session, evidence_id, lock=lock)
    if item is None:
        raise NotFound(
            f"no evidence with id {evidence_id} (it may have been purged)",
            evidence_id=evidence_id,
        )
    return item


def for_case(session: Session, case_id: int) -> list[EvidenceItem]:
    return repository.for_case(session, case_id)


def list_items(
    session: Session, *, case_id: int | None = None, after_id: int = 0, limit: int = 100
) -> list[EvidenceItem]:
    return repository.page(session, case_id=case_id, after_id=after_id, limit=limit)


def _hold_out(hold: EvidenceHold) -> HoldOut:
    return HoldOut(
        id=hold.id,
        reason=hold.reason,
        placed_by=hold.placed_by,
        placed_at=hold.placed_at,
        released_by=hold.released_by,
        released_at=hold.released_at,
        release_reason=hold.release_reason,
    )


def describe(session: Session, items: Iterable[EvidenceItem]) -> list[EvidenceOut]:
    """Metadata for each item (never content or report data)."""
    rows = list(items)
    holds = repository.active_holds(session, [i.id for i in rows])
    out = []
    for item in rows:
        hold = holds.get(item.id)
        out.append(
            EvidenceOut(
                id=item.id,
                case_id=item.case_id,
                media_id=item.media_id,
                report_id=item.report_id,
                file_held=item.file_state == FileState.HELD,
                no_file_reason=item.no_file_reason,
                no_file_text=NO_FILE_TEXT.get(item.no_file_reason or "")
                if item.file_state != FileState.HELD
                else None,
                content_sha256=item.content_sha256,
                content_size=item.content_size,
                media_type=item.media_type,
                data_sha256=item.data_sha256,
                key_id=item.key_id,
                legal_hold=item.legal_hold,
                hold=_hold_out(hold) if hold is not None else None,
                preserved_by=item.preserved_by,
                created_at=item.created_at,
                reported_at=item.reported_at,
                retain_until=item.retain_until,
            )
        )
    return out


def holds_of(session: Session, evidence_id: int) -> list[HoldOut]:
    return [_hold_out(h) for h in repository.holds_of(session, evidence_id)]


def _open_file(settings: Settings, item: EvidenceItem) -> bytes:
    path = _path(settings, item.uuid)
    try:
        blob = path.read_bytes()
    except FileNotFoundError:
        raise EvidenceUnreadable(
            f"evidence {item.id} has no file under {evidence_dir(settings)}; was the data "
            "folder restored without it?",
            evidence_id=item.id,
        ) from None
    try:
        data = unseal(blob, settings.resolved_keyring(), aad=_content_aad(item.uuid))
    except SealError as exc:
        raise EvidenceUnreadable(
            f"evidence {item.id} cannot be opened: {exc}", evidence_id=item.id
        ) from None
    if hashlib.sha256(data).hexdigest() != item.content_sha256:
        raise EvidenceUnreadable(
            f"evidence {item.id} opened but its content differs from what was preserved",
            evidence_id=item.id,
        )
    return data


def read_bytes(
    session: Session, settings: Settings, evidence_id: int, *, actor: Principal | str
) -> bytes:
    """The preserved file's plaintext, checked against its SHA-256. Writes ``evidence.read``.

    Raises :class:`PermissionDenied` without ``evidence:read`` (a ``system:*`` actor may
    read), :class:`NotFound` for an unknown or purged item, :class:`NoFileHeld` (a
    :class:`NotFound`) when the item holds no file, :class:`EvidenceUnreadable` when the
    file is missing, tampered with or sealed under a key that is not configured.
    """
    _require_reader(actor)
    item = get(session, evidence_id)
    if item.file_state != FileState.HELD:
        raise NoFileHeld(
            f"evidence {item.id} holds no file: "
            + NO_FILE_TEXT.get(item.no_file_reason or "", "no file held"),
            evidence_id=item.id,
        )
    data = _open_file(settings, item)
    _event(session, "evidence.read", item, actor, part="content", size=len(data))
    return data


def read_data(
    session: Session, settings: Settings, evidence_id: int, *, actor: Principal | str
) -> dict[str, Any]:
    """The preserved report-data document (``format``, ``case``, ``entries``), checked
    against its SHA-256. Writes ``evidence.read``. Raises as :func:`read_bytes`."""
    _require_reader(actor)
    item = get(session, evidence_id)
    document = _open_document(settings, item)
    _event(session, "evidence.read", item, actor, part="data")
    return document


# ---- legal hold ----------------------------------------------------------------------------


def _require_holder(actor: Principal | str) -> None:
    if isinstance(actor, Principal) and not actor.can(Scope.EVIDENCE_HOLD):
        raise PermissionDenied("legal holds need the evidence:hold scope (admins)")
    if isinstance(actor, str) and not actor.startswith("system:"):
        raise PermissionDenied("legal holds are placed by admins or the system")


def _reason(reason: str) -> str:
    text = (reason or "").strip()
    if not text:
        raise InvalidInput("a legal hold needs a reason (the matter it is for)", field="reason")
    if len(text) > MAX_REASON:
        raise InvalidInput(f"the reason is longer than {MAX_REASON} characters", field="reason")
    return text


def place_hold(
    session: Session, evidence_id: int, *, reason: str, actor: Principal | str
) -> EvidenceItem:
    """Put an item under legal hold: :func:`purge_expired` will not delete it, whatever its
    retention date, until :func:`release_hold`. Raises :class:`Conflict` when it is already
    held. Event ``evidence.hold_placed`` (the reason stays in the vault, not the event)."""
    _require_holder(actor)
    text = _reason(reason)
    item = get(session, evidence_id, lock=True)
    current = repository.active_hold(session, item.id)
    if current is not None:
        raise Conflict(
            f"evidence {item.id} is already under legal hold (hold {current.id}); release it "
            "first or keep it",
            evidence_id=item.id,
        )
    hold = EvidenceHold(
        evidence_id=item.id, reason=text, placed_by=_actor_ref(actor), placed_at=utcnow()
    )
    session.add(hold)
    item.legal_hold = True
    item.updated_at = utcnow()
    session.flush()
    _event(session, "evidence.hold_placed", item, actor, hold_id=hold.id)
    return item


def release_hold(
    session: Session, evidence_id: int, *, reason: str, actor: Principal | str
) -> EvidenceItem:
    """Release an item's legal hold; it is then purged once its retention date passes.
    Raises :class:`Conflict` when it is not held. Event ``evidence.hold_released``."""
    _require_holder(actor)
    text = _reason(reason)
    item = get(session, evidence_id, lock=True)
    current = repository.active_hold(session, item.id)
    if current is None:
        raise Conflict(f"evidence {item.id} is not under legal hold", evidence_id=item.id)
    now = utcnow()
    current.released_by = _actor_ref(actor)
    current.released_at = now
    current.release_reason = text
    item.legal_hold = False
    item.updated_at = now
    session.flush()
    _event(session, "evidence.hold_released", item, actor, hold_id=current.id)
    return item


# ---- purge ---------------------------------------------------------------------------------


def purge_expired(
    session: Session,
    settings: Settings,
    now: datetime | None = None,
    *,
    actor: Principal | str = SYSTEM_ACTOR,
) -> PurgeResult:
    """Delete every item past ``retain_until`` that is not under legal hold.

    Rows are deleted in the caller's transaction; their files are removed once it commits
    (nothing is removed if it rolls back). Files without a row older than an hour (a
    preserve whose transaction never committed, a crash before an unlink) are removed too.
    Writes ``evidence.purged`` (ids and counts) when anything was removed or skipped.
    """
    now = as_utc(now) or utcnow()
    removed: list[int] = []
    doomed: list[str] = []
    while True:
        batch = repository.expired(session, now, limit=BATCH)
        if not batch:
            break
        ids = [item.id for item in batch]
        repository.delete_ids(session, ids)
        for item in batch:
            session.expunge(item)
            if item.file_state == FileState.HELD:
                doomed.append(item.uuid)
        removed.extend(ids)
        if len(batch) < BATCH:
            break
    session.flush()
    held = repository.count_expired_held(session, now)
    files.unlink_after_commit(session, (_path(settings, u) for u in doomed))
    orphans = _remove_orphans(session, settings)
    if removed or orphans or held:
        audit.record(
            session,
            "evidence.purged",
            actor=actor,
            subject="evidence",
            principles=PRINCIPLES,
            payload={
                "count": len(removed),
                "evidence_ids": removed[:1000],
                "held_skipped": held,
                "orphan_files": orphans,
            },
        )
    log.info("evidence.purged", extra={"count": len(removed), "held_skipped": held})
    return PurgeResult(purged=len(removed), held_skipped=held, orphan_files=orphans)


def _remove_orphans(session: Session, settings: Settings) -> int:
    return files.remove_orphans(
        session,
        evidence_dir(settings),
        is_row_file=lambda name: len(name) == 36,
        known=repository.known_uuids,
    )


# ---- verify and key rotation ---------------------------------------------------------------


def verify(
    session: Session, settings: Settings, *, actor: Principal | str = SYSTEM_ACTOR
) -> VerifyResult:
    """Open every item's report data and file and check each against its SHA-256; returns
    the items that fail and why. Nothing is returned or logged of the content itself.
    Writes ``evidence.verified`` (counts and the failing ids)."""
    checked = 0
    failures: list[VerifyProblem] = []
    after = 0
    while True:
        batch = repository.page(session, case_id=None, after_id=after, limit=BATCH)
        if not batch:
            break
        for item in batch:
            after = item.id
            checked += 1
            try:
                _open_document(settings, item)
            except EvidenceUnreadable as exc:
                failures.append(VerifyProblem(evidence_id=item.id, part="data", problem=str(exc)))
            if item.file_state == FileState.HELD:
                try:
                    _open_file(settings, item)
                except EvidenceUnreadable as exc:
                    failures.append(
                        VerifyProblem(evidence_id=item.id, part="content", problem=str(exc))
                    )
            session.expunge(item)
    failed_ids = sorted({f.evidence_id for f in failures})
    audit.record(
        session,
        "evidence.verified",
        actor=actor,
        subject="evidence",
        principles=PRINCIPLES,
        payload={"checked": checked, "failed": len(failed_ids), "failed_ids": failed_ids[:1000]},
    )
    if failed_ids:
        log.error("evidence.verify_failed", extra={"failed": len(failed_ids)})
    return VerifyResult(checked=checked, failures=failures)


def objects_by_key(session: Session) -> dict[str, int]:
    """How many items each master key (by id, hex) wraps: a rotation is finished when only
    the current key is left."""
    return repository.count_by_key(session)


def rewrap_all(
    session: Session, settings: Settings, *, actor: Principal | str = SYSTEM_ACTOR
) -> int:
    """Re-wrap every item sealed under an older master key (kept in
    ``previous_master_keys``) with the current one: the data key of the file and of the
    report data, never the ciphertext. Returns how many; writes ``evidence.rewrapped``.
    Raises :class:`EvidenceUnreadable` naming the first item that cannot be re-wrapped."""
    current = settings.resolved_keyring().current_id.hex()
    done = 0
    after = 0
    while True:
        batch = repository.not_under_key(session, current, after_id=after, limit=BATCH)
        if not batch:
            break
        for item in batch:
            after = item.id
            _rekey_if_needed(settings, item)
            done += 1
        session.flush()
    if done:
        audit.record(
            session,
            "evidence.rewrapped",
            actor=actor,
            subject="evidence",
            principles=PRINCIPLES,
            payload={"count": done},
        )
    return done
