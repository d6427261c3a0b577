"""Free text (a report's words, a survivor's message and contact, a reviewer's note) and the
platform's reporter ids never reach a log line or an event payload, whatever path they take
(accepted, refused, decided, appealed)."""

from __future__ import annotations

import json
import logging

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from shieldwall.apikeys.schemas import KeyKind
from shieldwall.audit.models import Event
from shieldwall.core.access import INTEGRATION_SCOPES
from shieldwall.db.engine import Database
from tests.conftest import KeyFactory, auth

pytestmark = pytest.mark.db

MARK = "ZQX-FREE-TEXT-MARKER"


def test_free_text_stays_out_of_logs_and_events(
    client: TestClient,
    make_key: KeyFactory,
    admin_key: str,
    db: Database,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    platform = auth(make_key(sorted(INTEGRATION_SCOPES), kind=KeyKind.INTEGRATION))
    reviewer = auth(admin_key)
    report = {
        "reporter_id": f"{MARK}-reporter",
        "category": "grooming",
        "content_id": "post-1",
        "text": f"{MARK} the reporter's own words",
    }
    assert client.post("/v1/user-reports", json=report, headers=platform).status_code == 202
    refused = {**report, "content_id": f"bad\x00{MARK}"}
    assert client.post("/v1/user-reports", json=refused, headers=platform).status_code == 422
    takedown = {
        "hashes": [{"signal_type": "md5", "value": "a" * 32}],
        "contact": f"{MARK}@example.org",
        "message": f"{MARK} please take it down",
    }
    assert client.post("/v1/takedown-requests", json=takedown).status_code == 201
    queue = client.get("/v1/cases", headers=reviewer).json()["items"]
    assert queue
    for item in queue:
        decided = client.post(
            f"/v1/cases/{item['id']}/decision",
            json={"outcome": "violating", "label": "grooming", "note": f"{MARK} note"},
            headers=reviewer,
        )
        assert decided.status_code == 200, decided.text
        client.get(f"/v1/cases/{item['id']}", headers=reviewer)
    client.post("/v1/appeals", json={"case_id": queue[0]["id"]}, headers=platform)

    for record in caplog.records:
        assert MARK not in record.getMessage()
        assert MARK not in repr(record.__dict__)
    with db.session() as s:
        payloads = [json.dumps(e.payload) for e in s.scalars(select(Event))]
    assert payloads
    assert not [p for p in payloads if MARK in p]
