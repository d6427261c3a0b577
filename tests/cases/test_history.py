"""Scan history: records kept for their retention, found again by hashes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from shieldwall.audit.models import Event
from shieldwall.cases import history
from shieldwall.cases.models import ScanRecord
from shieldwall.config import Settings
from shieldwall.core.errors import InvalidInput
from shieldwall.db.base import utcnow
from shieldwall.db.engine import Database
from tests.cases.conftest import md5_of, pdq_of, sha256_of
from tests.conftest import SYSTEM

pytestmark = pytest.mark.db


def flip(hex_value: str, bits: int) -> str:
    """``hex_value`` with its lowest ``bits`` bits inverted (a PDQ that far away)."""
    value = int(hex_value, 16) ^ ((1 << bits) - 1)
    return f"{value:064x}"


def keep(
    db: Database,
    settings: Settings,
    n: int,
    *,
    pdq: str | None = None,
    days_ago: float = 0,
    ref: str | None = None,
) -> int:
    hashes = [
        ("md5", md5_of(n), "original"),
        ("sha256", sha256_of(n), "original"),
        ("pdq", flip(pdq_of(0), 200), "rotate90"),  # variants are not kept
        ("pdq", pdq or pdq_of(n), "original"),
    ]
    with db.session() as s:
        row = history.record_scan(
            s,
            settings,
            scan_id=f"scan{n}",
            actor=SYSTEM,
            source="upload",
            media_kind="photo",
            verdict="allow",
            hashes=hashes,
            content_ref=ref,
            account_ref="acct",
            at=utcnow() - timedelta(days=days_ago),
        )
        return row.id


def test_records_keep_refs_and_hashes(db: Database, settings: Settings) -> None:
    keep(db, settings, 1, ref="post-1")
    with db.session() as s:
        row = s.scalars(select(ScanRecord)).one()
        assert (row.scan_id, row.content_ref, row.account_ref) == ("scan1", "post-1", "acct")
        assert (row.md5, row.sha256, row.pdq) == (md5_of(1), sha256_of(1), pdq_of(1))
        assert row.retain_until - row.scanned_at == timedelta(days=settings.scan_retention_days)


def test_scans_matching_exact_and_near(db: Database, settings: Settings) -> None:
    base = pdq_of(42)
    exact_md5 = keep(db, settings, 1)
    exact_sha = keep(db, settings, 2)
    near = keep(db, settings, 3, pdq=flip(base, 20))
    far = keep(db, settings, 4, pdq=flip(base, 40))
    with db.session() as s:
        found = history.scans_matching(
            s,
            [
                ("md5", md5_of(1).upper()),
                ("sha256", sha256_of(2)),
                ("pdq", base),
                ("vpdq", "ignored"),
            ],
            pdq_threshold=31,
        )
        assert [r.id for r in found] == [exact_md5, exact_sha, near]
        wider = history.scans_matching(s, [("pdq", base)], pdq_threshold=40)
        assert [r.id for r in wider] == [near, far]
        assert history.scans_matching(s, [], pdq_threshold=31) == []
        with pytest.raises(InvalidInput, match="md5"):
            history.scans_matching(s, [("md5", "xyz")], pdq_threshold=31)
        with pytest.raises(InvalidInput, match="pdq_threshold"):
            history.scans_matching(s, [("pdq", base)], pdq_threshold=300)


def test_expired_records_are_not_found_and_are_purged(db: Database, settings: Settings) -> None:
    keep(db, settings, 1, days_ago=settings.scan_retention_days + 1)
    fresh = keep(db, settings, 2)
    with db.session() as s:
        assert (
            history.scans_matching(s, [("md5", md5_of(1)), ("pdq", pdq_of(1))], pdq_threshold=31)
            == []
        )
        assert history.purge_expired(s, actor=SYSTEM) == 1
        assert history.purge_expired(s, actor=SYSTEM) == 0
    with db.session() as s:
        assert s.scalars(select(ScanRecord.id)).all() == [fresh]
        purged = s.scalars(select(Event).where(Event.kind == "scan.records_purged")).one()
        assert purged.payload == {"deleted": 1}
        assert s.scalar(select(func.count()).select_from(ScanRecord)) == 1
