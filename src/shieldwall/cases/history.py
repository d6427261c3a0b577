"""Scan history: one :class:`ScanRecord` per scan, kept ``scan_retention_days``.

Later knowledge looks back through it: a survivor's approved hashes re-surface past uploads
(:func:`scans_matching`), and a platform can find what it scanned under a content id.
Records hold the platform's references, the exact hashes (MD5, SHA-256), the PDQ hash of
the original picture and the verdict — never the media.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from shieldwall.audit import service as audit
from shieldwall.cases import repository
from shieldwall.cases.models import ScanRecord
from shieldwall.config import Settings
from shieldwall.core.access import Principal
from shieldwall.core.errors import InvalidInput
from shieldwall.core.signals import SignalType, normalise
from shieldwall.db.base import utcnow

#: PDQ distances are 0-256; Meta's match threshold is 31.
MAX_PDQ_THRESHOLD = 256


def record_scan(
    session: Session,
    settings: Settings,
    *,
    scan_id: str,
    actor: Principal | str,
    source: str,
    media_kind: str,
    verdict: str,
    hashes: Iterable[tuple[str, str, str]],
    content_ref: str | None = None,
    account_ref: str | None = None,
    case_id: int | None = None,
    at: datetime | None = None,
) -> ScanRecord:
    """Keep one scan. ``hashes`` are ``(signal_type, value, variant)``: the first MD5 (or
    video MD5), SHA-256 and original-variant PDQ are kept. Flushes; no event (the scan's
    own ``scan.completed`` event covers it)."""
    md5 = sha256 = pdq = None
    for signal_type, value, variant in hashes:
        if signal_type in ("md5", "video_md5") and md5 is None:
            md5 = value
        elif signal_type == "sha256" and sha256 is None:
            sha256 = value
        elif signal_type == "pdq" and pdq is None and variant == "original":
            pdq = value
    now = at or utcnow()
    row = ScanRecord(
        scan_id=scan_id,
        content_ref=content_ref,
        account_ref=account_ref,
        actor=actor.actor if isinstance(actor, Principal) else actor,
        source=source[:10],
        media_kind=media_kind[:20],
        verdict=verdict,
        md5=md5,
        sha256=sha256,
        pdq=pdq,
        case_id=case_id,
        scanned_at=now,
        retain_until=now + timedelta(days=settings.scan_retention_days),
    )
    session.add(row)
    session.flush()
    return row


def _popcount_distance(a: int, b: int) -> int:
    return (a ^ b).bit_count()


def scans_matching(
    session: Session, hashes: Sequence[tuple[str, str]], *, pdq_threshold: int
) -> list[ScanRecord]:
    """Retained scan records matching any of ``hashes`` — ``(signal_type, value)`` pairs:
    MD5/video MD5 and SHA-256 exactly, PDQ within ``pdq_threshold`` (Hamming distance).
    Other signal types are ignored. Ordered by scan time, oldest first.

    PDQ is compared by reading the retained records' PDQ column in batches (a linear pass,
    bounded by the retention period); exact hashes use indexes.
    """
    if not 0 <= pdq_threshold <= MAX_PDQ_THRESHOLD:
        raise InvalidInput(f"pdq_threshold must be 0-{MAX_PDQ_THRESHOLD}", field="pdq_threshold")
    md5: set[str] = set()
    sha256: set[str] = set()
    pdqs: set[int] = set()
    for signal_type, value in hashes:
        kind = str(signal_type).strip().lower()
        if kind in (SignalType.MD5, SignalType.VIDEO_MD5):
            md5.add(normalise(kind, value))
        elif kind == SignalType.SHA256:
            sha256.add(normalise(kind, value))
        elif kind == SignalType.PDQ:
            pdqs.add(int(normalise(kind, value), 16))
    now = utcnow()
    found = {
        r.id: r
        for r in repository.scans_by_exact(session, md5=sorted(md5), sha256=sorted(sha256), now=now)
    }
    if pdqs:
        near: list[int] = []
        for batch in repository.iter_scan_pdqs(session, now=now):
            for record_id, value in batch:
                if record_id in found:
                    continue
                candidate = int(value, 16)
                if any(_popcount_distance(candidate, q) <= pdq_threshold for q in pdqs):
                    near.append(record_id)
        for record in repository.scans_by_ids(session, near):
            found[record.id] = record
    return sorted(found.values(), key=lambda r: (r.scanned_at, r.id))


def purge_expired(session: Session, *, actor: Principal | str, now: datetime | None = None) -> int:
    """Delete scan records past their retention; writes ``scan.records_purged`` when any
    went. Returns how many."""
    removed = repository.delete_expired_scans(session, now or utcnow())
    if removed:
        audit.record(
            session,
            "scan.records_purged",
            actor=actor,
            subject="scan_records",
            principles=[1],
            payload={"deleted": removed},
        )
    return removed
