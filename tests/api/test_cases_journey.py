"""From an upload to a reviewer's decision to a signed webhook at the platform, over real
HTTP, then the platform's appeal; the walk-through in docs/review.md as a test."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr

from shieldwall.apikeys.schemas import KeyKind
from shieldwall.config import Settings
from shieldwall.core.access import Role, Scope
from shieldwall.core.hashing import hash_bytes
from shieldwall.db.engine import Database
from shieldwall.demo_media import jpeg, stand_in
from shieldwall.integrations.webhooks import verify
from tests.conftest import KeyFactory, auth, make_user, wait_for_sync
from tests.jobs.receiver import Receiver, receiver_fixture

pytestmark = pytest.mark.db
UPLOAD = jpeg(stand_in(7))


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    yield from receiver_fixture()


@pytest.fixture
def settings(settings: Settings, receiver: Receiver) -> Settings:
    given = {name: getattr(settings, name) for name in settings.model_fields_set}
    return Settings(
        **{
            **given,
            "index_poll_seconds": 0.1,
            "webhook_url": receiver.url,
            "webhook_secret": SecretStr(receiver.secret),
            "webhook_timeout_seconds": 5.0,
            "outbox_poll_seconds": 0.05,
            "case_confirm_bank": "CONFIRMED",
        }
    )


def test_upload_decision_webhook_appeal(
    client: TestClient,
    app: FastAPI,
    db: Database,
    receiver: Receiver,
    make_key: KeyFactory,
    admin_key: str,
) -> None:
    rita = make_user(db, "rita", Role.REVIEWER)
    sam = make_user(db, "sam", Role.REVIEWER)
    rita_key = make_key([Scope.CASES_READ, Scope.CASES_WRITE], owner=rita)
    sam_key = make_key([Scope.CASES_READ, Scope.CASES_WRITE], owner=sam)
    platform = make_key([Scope.SCAN, Scope.CASES_SUBMIT], kind=KeyKind.INTEGRATION)

    # a review bank holding the upload's PDQ
    assert (
        client.post(
            "/v1/banks", json={"name": "REVIEW_FIRST", "action": "review"}, headers=auth(admin_key)
        ).status_code
        == 201
    )
    pdq = hash_bytes(UPLOAD).primary_pdq
    assert pdq is not None
    client.post(
        "/v1/banks/REVIEW_FIRST/entries",
        headers=auth(admin_key),
        json={"signal_type": "pdq", "value": pdq.hex, "labels": ["A2"]},
    )
    wait_for_sync(app)

    scanned = client.post(
        "/v1/scan",
        files={"file": ("u.jpg", UPLOAD)},
        data={"content_id": "post-123", "account_id": "user-77"},
        headers=auth(platform),
    )
    assert scanned.status_code == 200, scanned.text
    result: dict[str, Any] = scanned.json()
    assert result["verdict"] == "review"
    case_id = result["case_id"]

    queue = client.get("/v1/cases", headers=auth(rita_key)).json()
    assert [c["id"] for c in queue["items"]] == [case_id]
    decided = client.post(
        f"/v1/cases/{case_id}/decision",
        headers=auth(rita_key),
        json={"outcome": "violating", "label": "A2", "note": "matches"},
    )
    assert decided.status_code == 200, decided.text

    (delivery,) = receiver.wait_for(1)
    verify(delivery.headers.get("shieldwall-signature"), delivery.body, receiver.secret)
    body = delivery.document
    assert body["id"] == f"case:{case_id}:content.remove"
    assert delivery.key == body["id"]
    assert body["type"] == "content.remove"
    assert body["data"]["subject_ref"] == "post-123"
    assert body["data"]["labels"] == ["A2"]
    assert body["data"]["case_id"] == case_id

    # hash-on-confirm: the same file is now blocked without another review
    wait_for_sync(app)
    again = client.post(
        "/v1/scan",
        files={"file": ("u.jpg", UPLOAD)},
        data={"content_id": "post-456"},
        headers=auth(platform),
    )
    assert again.json()["verdict"] == "block"
    assert {m["bank"] for m in again.json()["matches"]} >= {"CONFIRMED"}
    confirmed = [m for m in again.json()["matches"] if m["bank"] == "CONFIRMED"]
    assert {m["source"] for m in confirmed} == {"case"}
    assert {m["source_record_id"] for m in confirmed} == {f"case:{case_id}"}

    # the platform appeals; another reviewer upholds it: restore, and the hashes leave
    appeal = client.post(
        "/v1/appeals", headers=auth(platform), json={"action_key": body["id"], "appeal_ref": "ap-9"}
    )
    assert appeal.status_code == 201, appeal.text
    appeal_case = appeal.json()["case_id"]
    upheld = client.post(
        f"/v1/cases/{appeal_case}/decision",
        headers=auth(sam_key),
        json={"outcome": "not_violating"},
    )
    assert upheld.status_code == 200, upheld.text
    restore = receiver.wait_for(2)[1].document
    assert (restore["type"], restore["data"]["subject_ref"]) == ("content.restore", "post-123")
    wait_for_sync(app)
    third = client.post(
        "/v1/scan",
        files={"file": ("u.jpg", UPLOAD)},
        data={"content_id": "post-789"},
        headers=auth(platform),
    ).json()
    assert "CONFIRMED" not in {m["bank"] for m in third["matches"]}
    assert third["verdict"] == "review"  # the review bank still asks for a person
    assert hashlib.sha256(UPLOAD).hexdigest() in {h["value"] for h in third["hashes"]}
