"""Scans into cases with matches a case signal cannot hold as they are: an entry with many
labels, many review banks with long names. The scan still answers ``review`` with a case
(never a 422 for the uploader, never a media file left without its row)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from shieldwall.cases.models import Case, CaseSignal, ScanRecord
from shieldwall.db.engine import Database
from tests.api.test_cases_scan import KNOWN, bank_with, key, settings, synced, upload

__all__ = ["key", "settings", "synced"]  # fixtures

pytestmark = pytest.mark.db


def test_a_review_match_with_more_labels_than_a_signal_holds_still_opens_a_case(
    client: TestClient, key: str, synced: Callable[[], None], db: Database
) -> None:
    labels = [f"tag_{i:03d}" for i in range(70)] + ["A1", "0_first"]
    bank_with(client, key, "REVIEW_MANY", KNOWN, action="review", labels=labels)
    synced()
    result = upload(client, key, KNOWN, content_id="post-many")
    assert result["verdict"] == "review"
    with db.session() as s:
        case = s.get(Case, result["case_id"])
        assert case is not None
        assert "A1" in case.labels  # the label that sets the priority is kept
        assert case.priority_rule != "other"
        assert 1 <= len(case.labels) <= 50
        assert s.scalar(select(func.count()).select_from(ScanRecord)) == 1


def test_many_review_banks_with_long_names_still_open_a_case(
    client: TestClient, key: str, synced: Callable[[], None], db: Database
) -> None:
    names = [f"REVIEW_{i:02d}_" + "X" * 88 for i in range(45)]
    for name in names:
        bank_with(client, key, name, KNOWN, action="review", labels=["B1"])
    synced()
    result = upload(client, key, KNOWN, content_id="post-banks")
    assert result["verdict"] == "review"
    with db.session() as s:
        signal = s.scalars(select(CaseSignal)).one()
        assert set(signal.summary["banks"]) <= set(names)
        assert signal.summary["bank_count"] == len(names)
