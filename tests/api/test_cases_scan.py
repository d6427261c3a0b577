"""Scans into cases through the HTTP API: review verdicts open cases with the media kept,
classifier scores over threshold route to review, block verdicts ask for content.block,
and every scan leaves a scan record. Pictures are generated stand-ins (demo_media)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from shieldwall.actions.models import Action
from shieldwall.cases.models import Case, CaseSignal, ScanRecord
from shieldwall.config import Settings
from shieldwall.core.hashing import hash_bytes
from shieldwall.db.engine import Database
from shieldwall.demo_media import jpeg, stand_in
from shieldwall.media import service as media
from tests.conftest import KeyFactory, auth, wait_for_sync
from tests.media.samples import marked

pytestmark = pytest.mark.db

KNOWN = jpeg(stand_in(1))
OTHER = jpeg(stand_in(2))


@pytest.fixture
def settings(settings: Settings) -> Settings:
    given = {name: getattr(settings, name) for name in settings.model_fields_set}
    return Settings(
        **{
            **given,
            "index_poll_seconds": 0.1,
            "webhook_on_block_verdict": True,
            "classifiers": [
                {"name": "marker", "kind": "stand-in", "thresholds": {"marker": 0.3}},
            ],
        }
    )  # built anew, so the classifier tables are validated


@pytest.fixture
def key(make_key: KeyFactory) -> str:
    return make_key()


@pytest.fixture
def synced(app: FastAPI) -> Callable[[], None]:
    return lambda: wait_for_sync(app)


def bank_with(
    client: TestClient, key: str, name: str, data: bytes, *, action: str, labels: list[str]
) -> None:
    made = client.post("/v1/banks", json={"name": name, "action": action}, headers=auth(key))
    assert made.status_code == 201, made.text
    md5 = hashlib.md5(data).hexdigest()  # noqa: S324 - a file digest, not security
    pdq = hash_bytes(data).primary_pdq
    assert pdq is not None
    for signal_type, value in (("md5", md5), ("pdq", pdq.hex)):
        added = client.post(
            f"/v1/banks/{name}/entries",
            headers=auth(key),
            json={"signal_type": signal_type, "value": value, "labels": labels},
        )
        assert added.status_code in (200, 201), added.text


def upload(client: TestClient, key: str, data: bytes, **fields: str) -> dict[str, Any]:
    response = client.post(
        "/v1/scan", files={"file": ("upload.jpg", data)}, data=fields, headers=auth(key)
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def count(db: Database, model: type) -> int:
    with db.session() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_review_verdict_opens_a_case_with_the_media_kept(
    client: TestClient, key: str, synced: Callable[[], None], db: Database, settings: Settings
) -> None:
    bank_with(client, key, "REVIEW_FIRST", KNOWN, action="review", labels=["A2"])
    synced()
    result = upload(client, key, KNOWN, content_id="post-9", account_id="acct-4")
    assert result["verdict"] == "review"
    case_id = result["case_id"]
    assert isinstance(case_id, int)
    with db.session() as s:
        case = s.get(Case, case_id)
        assert case is not None
        assert (case.subject_kind, case.subject_ref, case.account_ref) == (
            "content",
            "post-9",
            "acct-4",
        )
        assert (case.sources, case.labels, case.priority_rule) == (
            ["hash_match"],
            ["A2"],
            "bank_match_classified",
        )
        assert case.media_id is not None
        assert media.read(s, settings, case.media_id) == KNOWN
        signal = s.scalars(select(CaseSignal)).one()
        assert signal.summary["banks"] == ["REVIEW_FIRST"]
        assert {t for t, _ in signal.hashes} >= {"md5", "sha256", "pdq"}
        record = s.scalars(select(ScanRecord)).one()
        assert (record.scan_id, record.verdict, record.case_id) == (
            result["scan_id"],
            "review",
            case_id,
        )
        assert (record.content_ref, record.account_ref) == ("post-9", "acct-4")
        assert record.md5 == hashlib.md5(KNOWN).hexdigest()  # noqa: S324
    # the same content scanned again joins the case
    again = upload(client, key, KNOWN, content_id="post-9")
    assert again["case_id"] == case_id
    with db.session() as s:
        case = s.get(Case, case_id)
        assert case is not None
        assert case.signal_count == 2
    # without a content id the scan gets its own case
    anonymous = upload(client, key, KNOWN)
    assert anonymous["case_id"] != case_id
    with db.session() as s:
        lone = s.get(Case, anonymous["case_id"])
        assert lone is not None
        assert lone.subject_ref == f"scan:{anonymous['scan_id']}"


def test_classifier_over_threshold_routes_to_review(
    client: TestClient, key: str, db: Database
) -> None:
    low = upload(client, key, marked(0.1), content_id="post-low")
    assert low["verdict"] == "allow"
    assert low["case_id"] is None
    assert [
        (s["classifier"], s["label"], s["over_threshold"]) for s in low["classifier_scores"]
    ] == [("marker", "marker", False)]
    high = upload(client, key, marked(0.6), content_id="post-high")
    assert high["verdict"] == "review"
    assert high["classifier_scores"][0]["over_threshold"] is True
    with db.session() as s:
        case = s.get(Case, high["case_id"])
        assert case is not None
        assert case.sources == ["classifier"]
        assert case.top_score is not None
        assert case.top_score == pytest.approx(high["classifier_scores"][0]["score"])
        assert case.priority == 200 + round(300 * case.top_score)
        assert case.media_id is not None
    assert count(db, ScanRecord) == 2


def test_a_block_verdict_asks_for_content_block_once(
    client: TestClient, key: str, synced: Callable[[], None], db: Database
) -> None:
    bank_with(client, key, "KNOWN", KNOWN, action="block", labels=["A1"])
    synced()
    first = upload(client, key, KNOWN, content_id="post-1")
    assert first["verdict"] == "block"
    assert first["classifier_scores"] == []  # not asked once a block bank decided
    upload(client, key, KNOWN, content_id="post-1")  # the same upload again
    upload(client, key, KNOWN)  # no content id: nothing to name in a webhook
    with db.session() as s:
        actions = list(s.scalars(select(Action)))
        assert [(a.type, a.subject_ref, a.labels, a.case_id) for a in actions] == [
            ("content.block", "post-1", ["A1"], None)
        ]
    assert count(db, Case) == 0
    assert count(db, ScanRecord) == 3


def test_lookup_takes_references_too(
    client: TestClient, key: str, synced: Callable[[], None], db: Database
) -> None:
    bank_with(client, key, "REVIEW_FIRST", OTHER, action="review", labels=[])
    synced()
    md5 = hashlib.md5(OTHER).hexdigest()  # noqa: S324
    body = {
        "signals": [{"signal_type": "md5", "value": md5}],
        "content_id": "msg-3",
        "account_id": "acct-9",
    }
    response = client.post("/v1/lookup", json=body, headers=auth(key))
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["verdict"] == "review"
    with db.session() as s:
        case = s.get(Case, result["case_id"])
        assert case is not None
        assert (case.subject_ref, case.account_ref, case.priority_rule, case.media_id) == (
            "msg-3",
            "acct-9",
            "bank_match",
            None,
        )
    json_scan = client.post(
        "/v1/scan",
        headers=auth(key),
        json={"hashes": [{"signal_type": "md5", "value": md5}], "content_id": "msg-3"},
    )
    assert json_scan.json()["case_id"] == result["case_id"]


def test_idempotent_replays_keep_one_record(client: TestClient, key: str, db: Database) -> None:
    headers = {**auth(key), "Idempotency-Key": "k-1"}
    for _ in range(2):
        response = client.post(
            "/v1/scan", files={"file": ("a.jpg", OTHER)}, data={"content_id": "p"}, headers=headers
        )
        assert response.status_code == 200
    assert count(db, ScanRecord) == 1
    other = client.post(
        "/v1/scan", files={"file": ("a.jpg", OTHER)}, data={"content_id": "q"}, headers=headers
    )
    assert other.status_code == 409, other.text  # same key, another content id


@pytest.mark.parametrize(
    "fields", [{"content_id": "a\nb"}, {"account_id": "x" * 201}, {"content_id": "\x07"}]
)
def test_bad_references_are_refused_before_anything_is_written(
    client: TestClient, key: str, db: Database, fields: dict[str, str]
) -> None:
    response = client.post(
        "/v1/scan", files={"file": ("a.jpg", OTHER)}, data=fields, headers=auth(key)
    )
    assert response.status_code == 422, response.text
    bad_json = client.post(
        "/v1/lookup",
        headers=auth(key),
        json={"signals": [{"signal_type": "md5", "value": "0" * 32}], **fields},
    )
    assert bad_json.status_code == 422
    assert count(db, ScanRecord) == 0
