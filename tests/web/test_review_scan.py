"""Cases opened by real scans through the API, as the review pages show them: the bank
match (bank, labels, distance) and classifier scores over threshold, with the uploaded
picture kept for review and shown blurred. Pictures are generated stand-ins."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from shieldwall.config import Settings
from shieldwall.core.access import Role
from shieldwall.db.engine import Database
from tests.conftest import PASSWORD, KeyFactory, auth, make_user, wait_for_sync
from tests.media.samples import marked
from tests.web.conftest import LoginAs
from tests.web.html_forms import parse
from tests.web.review_cases import picture

KNOWN = picture(1)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    given = {name: getattr(settings, name) for name in settings.model_fields_set}
    return Settings(  # built anew, so the classifier tables are validated
        **{
            **given,
            "index_poll_seconds": 0.1,
            "classifiers": [
                {"name": "marker", "kind": "stand-in", "thresholds": {"marker": 0.3}},
            ],
        }
    )


def review_bank(client: TestClient, key: str, data: bytes) -> None:
    made = client.post(
        "/v1/banks",
        json={"name": "REVIEW_FIRST", "action": "review", "labels": ["A2"]},
        headers=auth(key),
    )
    assert made.status_code == 201, made.text
    md5 = hashlib.md5(data).hexdigest()  # noqa: S324 - a file digest, not security
    added = client.post(
        "/v1/banks/REVIEW_FIRST/entries",
        headers=auth(key),
        json={"signal_type": "md5", "value": md5, "labels": ["A2"]},
    )
    assert added.status_code in (200, 201), added.text


def upload(client: TestClient, key: str, data: bytes, **fields: str) -> dict[str, Any]:
    response = client.post(
        "/v1/scan", files={"file": ("upload.jpg", data)}, data=fields, headers=auth(key)
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


@pytest.mark.usefixtures("admin")
def test_scanned_uploads_show_their_match_and_scores_with_the_media_blurred(
    client: TestClient, app: FastAPI, make_key: KeyFactory, db: Database, login_as: LoginAs
) -> None:
    key = make_key()
    review_bank(client, key, KNOWN)
    wait_for_sync(app)
    matched = upload(client, key, KNOWN, content_id="post-9", account_id="acct-4")
    scored = upload(client, key, marked(0.6), content_id="post-10")
    assert matched["verdict"] == scored["verdict"] == "review"

    make_user(db, "rita", Role.REVIEWER)
    reviewer = login_as("rita", PASSWORD)
    queue = parse(reviewer.get("/review").text)
    listed = {int(a["data-case"]) for t, a in queue.tags if t == "tr" and "data-case" in a}
    assert {matched["case_id"], scored["case_id"]} <= listed

    page = reviewer.get(f"/review/cases/{matched['case_id']}")
    parsed = parse(page.text)
    match = parsed.text_of("match")
    assert "REVIEW_FIRST" in match
    assert "A2" in match
    assert "0 (exact)" in match
    items = [a for t, a in parsed.tags if a.get("data-testid") == "media-item"]
    assert len(items) == 1
    assert items[0]["data-state"] == "blurred"
    preview = reviewer.get(
        f"/review/cases/{matched['case_id']}/media/{items[0]['data-media-id']}/preview"
    )
    assert preview.status_code == 200
    assert preview.content != KNOWN

    scores = parse(reviewer.get(f"/review/cases/{scored['case_id']}").text).text_of("scores")
    assert "marker" in scores
    assert "0.3" in scores  # the threshold it went over
