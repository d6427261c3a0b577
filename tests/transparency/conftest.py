"""An event log with known contents, written through the real event chain.

Period H1 2026 (2026-01-01 .. 2026-06-30) holds everything below; 2025 H2 holds two scans
(the trend); July 2026 holds one scan that no H1 number may count.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shieldwall.audit import service as audit
from shieldwall.config import Settings
from shieldwall.db.engine import Database
from shieldwall.transparency.periods import Period
from tests.web.conftest import sql  # noqa: F401

H1 = Period(datetime(2026, 1, 1).date(), datetime(2026, 6, 30).date())
H2_2025 = Period(datetime(2025, 7, 1).date(), datetime(2025, 12, 31).date())


def at(month: int, day: int, hour: int = 0, minute: int = 0, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def _scan(
    verdict: str, matches: int = 0, keys: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    return {
        "source": "api",
        "media_kind": "photo",
        "verdict": verdict,
        "matches": matches,
        "suppressed": 0,
        "entries": [],
        "banks": sorted({k["bank"] for k in keys or []}),
        "signal_types": ["md5", "pdq"],
        "low_quality": False,
        "match_keys": keys or [],
    }


def known_log() -> list[tuple[str, str, dict[str, Any], datetime]]:
    """(kind, subject, payload, occurred_at) in the order they are written."""
    ev: list[tuple[str, str, dict[str, Any], datetime]] = []
    # 2025 H2: two scans (trend only)
    ev += [("scan.completed", "scan:old1", _scan("allow"), at(9, 1, year=2025))]
    ev += [("scan.completed", "scan:old2", _scan("allow"), at(12, 31, 23, 59, year=2025))]
    # H1 2026: 12 scans, 9 allow, 2 review, 1 block
    for i in range(9):
        ev.append(("scan.completed", f"scan:a{i}", _scan("allow"), at(1, 1 + i)))
    ev.append(
        (
            "scan.completed",
            "scan:r1",
            _scan("review", 1, [{"bank": "A", "signal_type": "pdq", "labels": ["x"], "count": 1}]),
            at(2, 1),
        )
    )
    ev.append(
        (
            "scan.completed",
            "scan:r2",
            _scan(
                "review",
                2,
                [
                    {"bank": "A", "signal_type": "pdq", "labels": ["x"], "count": 1},
                    {"bank": "B", "signal_type": "md5", "labels": [], "count": 1},
                ],
            ),
            at(2, 2),
        )
    )
    ev.append(
        (
            "scan.completed",
            "scan:b1",
            _scan(
                "block", 1, [{"bank": "B", "signal_type": "md5", "labels": ["x", "y"], "count": 1}]
            ),
            at(2, 3),
        )
    )
    ev.append(
        (
            "scan.bulk_completed",
            "bulk:root",
            {"scanned": 5, "skipped": 0, "verdicts": {"allow": 4, "block": 1}},
            at(3, 1),
        )
    )
    # cases: 1 hash match, 2 classifier, 3 user report, 4 survivor request, 5 appeal of 1
    opened = {
        "priority": 50,
        "rule": "r",
        "labels": [],
        "child_in_danger": False,
        "subject_kind": "content",
    }
    ev.append(
        ("case.opened", "case:1", {**opened, "signal_id": 1, "source": "hash_match"}, at(1, 10, 10))
    )
    ev.append(
        ("case.opened", "case:2", {**opened, "signal_id": 2, "source": "classifier"}, at(1, 11, 10))
    )
    ev.append(
        (
            "user_report.received",
            "user_report:7",
            {
                "report_id": 7,
                "category": "csam",
                "child_in_danger": False,
                "hash_count": 0,
                "has_text": True,
                "joined_report_id": None,
            },
            at(2, 1, 8),
        )
    )
    ev.append(
        (
            "case.opened",
            "case:3",
            {**opened, "signal_id": 3, "source": "user_report", "ref": "user_report:7"},
            at(2, 1, 8, 0),
        )
    )
    ev.append(
        (
            "case.opened",
            "case:4",
            {**opened, "signal_id": 4, "source": "survivor_request", "ref": "takedown_request:1"},
            at(3, 1, 12),
        )
    )
    ev.append(
        (
            "action.requested",
            "action:1",
            {
                "action_id": 1,
                "type": "content.remove",
                "case_id": 1,
                "labels": ["A1"],
                "outbox_item_id": 1,
            },
            at(1, 10, 10, 30),
        )
    )
    ev.append(
        (
            "action.requested",
            "action:2",
            {
                "action_id": 2,
                "type": "account.suspend",
                "case_id": 1,
                "labels": ["A1"],
                "outbox_item_id": 2,
            },
            at(1, 10, 11),
        )
    )
    ev.append(
        (
            "action.requested",
            "action:3",
            {
                "action_id": 3,
                "type": "content.remove",
                "case_id": 2,
                "labels": ["A2"],
                "outbox_item_id": 3,
            },
            at(1, 11, 11),
        )
    )
    decided = {"confirmed": False, "appeal_of_case_id": None}
    ev.append(
        (
            "case.decided",
            "case:1",
            {**decided, "decision_id": 1, "outcome": "violating", "label": "A1"},
            at(1, 10, 10, 29),
        )
    )
    ev.append(
        (
            "case.decided",
            "case:2",
            {**decided, "decision_id": 2, "outcome": "violating", "label": "A2"},
            at(1, 11, 10, 59),
        )
    )
    ev.append(
        (
            "case.decided",
            "case:3",
            {**decided, "decision_id": 3, "outcome": "not_violating", "label": None},
            at(2, 1, 11),
        )
    )
    ev.append(("case.opened", "case:5", {**opened, "signal_id": 5, "source": "appeal"}, at(4, 1)))
    ev.append(
        (
            "case.decided",
            "case:5",
            {
                "decision_id": 5,
                "outcome": "not_violating",
                "label": None,
                "confirmed": False,
                "appeal_of_case_id": 1,
            },
            at(4, 2),
        )
    )
    ev.append(
        ("case.overturned", "case:1", {"appeal_case_id": 5, "bank_entries_removed": []}, at(4, 2))
    )
    ev.append(
        (
            "report.sent",
            "report:1",
            {"report_id": 1, "destination": "ncmec", "case_ids": [1], "files": 2},
            at(1, 12),
        )
    )
    ev.append(
        (
            "report.sent",
            "report:2",
            {"report_id": 2, "destination": "ncmec", "case_ids": [2], "files": 1},
            at(1, 13),
        )
    )
    ev.append(
        (
            "report.sent",
            "report:3",
            {"report_id": 3, "destination": "cybertip_ca", "case_ids": [2], "files": 3},
            at(1, 14),
        )
    )
    for rid, hours in ((1, 1), (2, 2), (3, 4)):
        start = at(5, rid, 9)
        ev.append(
            (
                "takedown_request.received",
                f"takedown_request:{rid}",
                {"request_id": rid, "hash_count": 1},
                start,
            )
        )
        ev.append(
            (
                "takedown_request.approved",
                f"takedown_request:{rid}",
                {"request_id": rid, "case_id": 4, "bank_id": 9, "added": 1},
                start + timedelta(hours=hours),
            )
        )
    ev += [("search.warned", "", {"entry_ids": [1], "categories": ["csam_seeking"]}, at(6, 1))]
    ev += [("search.warned", "", {"entry_ids": [1], "categories": ["csam_seeking"]}, at(6, 2))]
    ev += [("search.blocked", "", {"entry_ids": [2], "categories": ["csam_seeking"]}, at(6, 3))]
    # the last instant of the period counts; the first instant after it does not
    ev.append(("search.blocked", "", {"entry_ids": [2]}, at(6, 30, 23, 59)))
    ev.append(("scan.completed", "scan:july", _scan("block", 1, []), at(7, 1)))
    return ev


def write_log(db: Database, events: list[tuple[str, str, dict[str, Any], datetime]]) -> None:
    with db.session() as session:
        for kind, subject, payload, when in events:
            audit.record(session, kind, actor="user:99", subject=subject, payload=payload, at=when)


@pytest.fixture
def known(db: Database) -> Database:
    write_log(db, known_log())
    return db


@pytest.fixture
def open_settings(settings: Settings) -> Settings:
    """No suppression (floor 1), one trend period."""
    return settings.model_copy(
        update={"transparency_suppression_floor": 1, "transparency_trend_periods": 1}
    )
