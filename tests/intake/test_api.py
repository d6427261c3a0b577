"""The intake API: user reports from platforms, takedown requests from the public, and the
reviewers' views. Bad input, wrong tokens and floods are answered without leaking anything."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from shieldwall.api import create_app
from shieldwall.apikeys.schemas import KeyKind
from shieldwall.cases import service as cases
from shieldwall.cases.schemas import Outcome
from shieldwall.config import Settings
from shieldwall.core.access import INTEGRATION_SCOPES, ROLE_SCOPES, Principal, Role
from shieldwall.db.engine import Database
from shieldwall.intake.models import TakedownRequest, UserReport
from shieldwall.users.models import User
from tests.api.problem_check import assert_problem
from tests.conftest import KeyFactory, auth, wait_for_index
from tests.intake.conftest import hashes_of, md5_of, with_limits

pytestmark = pytest.mark.db

TOKEN_HEADER = "X-Status-Token"


@pytest.fixture
def platform_key(make_key: KeyFactory) -> dict[str, str]:
    return auth(make_key(sorted(INTEGRATION_SCOPES), kind=KeyKind.INTEGRATION))


@pytest.fixture
def reviewer_key(make_key: KeyFactory, rita: User) -> dict[str, str]:
    return auth(make_key(sorted(ROLE_SCOPES[Role.REVIEWER]), owner=rita))


def client_for(settings: Settings, db: Database) -> Iterator[TestClient]:
    app: FastAPI = create_app(settings, database=db)
    with TestClient(app, base_url="https://testserver", raise_server_exceptions=False) as c:
        wait_for_index(app)
        yield c


@pytest.fixture
def limited(settings: Settings, db: Database) -> Iterator[TestClient]:
    """An app with tight limits: 2 reports per reporter, 2 takedown requests and 4 status
    look-ups per address, 3 hashes per request, 20 characters of text."""
    tight = with_limits(
        settings,
        user_report_rate_limit=2,
        takedown_rate_limit=2,
        takedown_status_rate_limit=4,
        takedown_max_hashes=3,
        user_report_max_text_chars=20,
    )
    yield from client_for(tight, db)


def report(**extra: Any) -> dict[str, Any]:
    return {"reporter_id": "u-1", "category": "sextortion", "content_id": "post-1", **extra}


# ---- user reports --------------------------------------------------------------------------


def test_a_platform_sends_a_report_and_gets_an_id(
    client: TestClient, platform_key: dict[str, str], db: Database
) -> None:
    response = client.post(
        "/v1/user-reports",
        headers=platform_key,
        json=report(text="he says he will post my photos", account_id="a-1"),
    )
    assert response.status_code == 202, response.text
    body = response.json()
    assert set(body) == {"id", "status", "received_at"}
    assert body["status"] == "received"
    with db.session() as s:
        row = s.get(UserReport, body["id"])
        assert row is not None
        assert row.case_id is not None
        assert row.submitted_by.startswith("apikey:")


def test_repeated_reports_through_the_api_join_one_case(
    client: TestClient, platform_key: dict[str, str], db: Database
) -> None:
    ids = [
        client.post(
            "/v1/user-reports", headers=platform_key, json=report(reporter_id=f"u-{n}")
        ).json()["id"]
        for n in range(3)
    ]
    with db.session() as s:
        case_ids = {s.get(UserReport, i).case_id for i in ids}  # type: ignore[union-attr]
    assert len(case_ids) == 1


def test_an_unknown_category_lists_the_known_ones(
    client: TestClient, platform_key: dict[str, str], db: Database
) -> None:
    response = client.post("/v1/user-reports", headers=platform_key, json=report(category="spam"))
    body = assert_problem(response, 422, "invalid-input")
    assert body["errors"][0]["field"] == "category"
    assert "grooming" in body["errors"][0]["message"]
    assert "non_consensual_imagery" in body["errors"][0]["message"]
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(UserReport)) == 0


def test_malformed_report_hashes_name_their_position(
    client: TestClient, platform_key: dict[str, str]
) -> None:
    hashes = [hashes_of(1)[0], {"signal_type": "md5", "value": "zz"}]
    body = assert_problem(
        client.post("/v1/user-reports", headers=platform_key, json=report(hashes=hashes)),
        422,
        "invalid-input",
    )
    assert [e["field"] for e in body["errors"]] == ["hashes.1.value"]
    assert "zz" not in body["errors"][0]["message"].replace("'z'", "")


def test_oversized_text_is_refused(
    limited: TestClient, platform_key: dict[str, str], db: Database
) -> None:
    body = assert_problem(
        limited.post("/v1/user-reports", headers=platform_key, json=report(text="x" * 21)),
        422,
        "invalid-input",
    )
    assert body["field"] == "text"
    assert "at most 20" in body["detail"]
    assert "xxxxx" not in body["detail"]
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(UserReport)) == 0


def test_a_body_over_the_limit_is_413(client: TestClient, platform_key: dict[str, str]) -> None:
    response = client.post("/v1/user-reports", headers=platform_key, json=report(text="x" * 70_000))
    assert_problem(response, 413, "payload-too-large")


def test_reports_are_rate_limited_per_reporter_with_retry_after(
    limited: TestClient, platform_key: dict[str, str]
) -> None:
    for n in range(2):
        assert (
            limited.post(
                "/v1/user-reports", headers=platform_key, json=report(content_id=f"p-{n}")
            ).status_code
            == 202
        )
    response = limited.post("/v1/user-reports", headers=platform_key, json=report())
    body = assert_problem(response, 429, "rate-limited")
    assert int(response.headers["Retry-After"]) >= 1
    assert body["retry_after"] == int(response.headers["Retry-After"])
    assert (
        limited.post(
            "/v1/user-reports", headers=platform_key, json=report(reporter_id="u-2")
        ).status_code
        == 202
    )


def test_reviewers_read_a_report_platforms_cannot(
    client: TestClient,
    platform_key: dict[str, str],
    reviewer_key: dict[str, str],
    db: Database,
) -> None:
    made = client.post(
        "/v1/user-reports", headers=platform_key, json=report(text="please look at this")
    ).json()
    assert_problem(
        client.get(f"/v1/user-reports/{made['id']}", headers=platform_key), 403, "permission-denied"
    )
    shown = client.get(f"/v1/user-reports/{made['id']}", headers=reviewer_key)
    assert shown.status_code == 200, shown.text
    assert shown.json()["text"] == "please look at this"
    assert shown.json()["category"] == "sextortion"
    assert "reporter_id" not in shown.json()
    assert_problem(client.get("/v1/user-reports/999", headers=reviewer_key), 404, "not-found")


# ---- takedown requests ---------------------------------------------------------------------


def send(client: TestClient, n: int = 1, **extra: Any) -> Any:
    return client.post("/v1/takedown-requests", json={"hashes": hashes_of(n), **extra})


def test_anyone_can_send_a_takedown_request_without_a_key(client: TestClient, db: Database) -> None:
    response = send(client, contact="me@example.org")
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"id", "status_token", "status", "status_url", "received_at", "hash_count"}
    assert body["status"] == "received"
    assert body["hash_count"] == 3
    assert body["status_url"] == f"/v1/takedown-requests/{body['id']}"
    assert len(body["status_token"]) >= 43
    with db.session() as s:
        row = s.get(TakedownRequest, body["id"])
        assert row is not None
        assert row.token_hash != body["status_token"]
    status = client.get(body["status_url"], headers={TOKEN_HEADER: body["status_token"]})
    assert status.status_code == 200, status.text
    shown = status.json()
    assert shown["status"] == "received"
    assert shown["in_place_since"] is None
    assert shown["explanation"]
    assert "contact" not in shown
    assert "hashes" not in shown


def _comparable(response: Any) -> tuple[int, str, dict[str, Any], list[str]]:
    body = dict(response.json())
    body.pop("request_id")
    body.pop("instance")
    headers = sorted(k.lower() for k in response.headers if k.lower() != "content-length")
    return response.status_code, response.headers["content-type"], body, headers


def test_wrong_missing_and_unknown_all_answer_the_same_404(
    client: TestClient, db: Database
) -> None:
    made = send(client).json()
    other = send(client, 2).json()
    url = made["status_url"]
    answers = {
        "missing": client.get(url),
        "empty": client.get(url, headers={TOKEN_HEADER: ""}),
        "wrong": client.get(url, headers={TOKEN_HEADER: "not-the-token"}),
        "another request's": client.get(url, headers={TOKEN_HEADER: other["status_token"]}),
        "very long": client.get(url, headers={TOKEN_HEADER: "x" * 4000}),
        "unknown id": client.get(
            "/v1/takedown-requests/987654", headers={TOKEN_HEADER: made["status_token"]}
        ),
        "unknown id, no token": client.get("/v1/takedown-requests/987655"),
    }
    for response in answers.values():
        assert_problem(response, 404, "not-found")
    shapes = {name: _comparable(r) for name, r in answers.items()}
    first = shapes["missing"]
    for name, shape in shapes.items():
        assert shape == first, name
    assert str(made["id"]) not in first[2]["detail"]
    # a bearer API key does not open it either
    assert client.get(url, headers={"Authorization": "Bearer sw_x_y"}).status_code == 404


def test_malformed_takedown_hashes_name_their_position(client: TestClient, db: Database) -> None:
    hashes = [
        *hashes_of(1),
        {"signal_type": "pdq", "value": "abc"},
        {"signal_type": "md5", "value": md5_of(2), "quality": 90},
    ]
    body = assert_problem(
        client.post("/v1/takedown-requests", json={"hashes": hashes}), 422, "invalid-input"
    )
    fields = [e["field"] for e in body["errors"]]
    assert fields == ["hashes.3.value", "hashes.4"]
    assert "64 hex characters" in body["errors"][0]["message"]
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(TakedownRequest)) == 0


def test_too_many_hashes_and_low_quality_are_refused(limited: TestClient) -> None:
    four = limited.post("/v1/takedown-requests", json={"hashes": hashes_of(1) + hashes_of(2)[:1]})
    body = assert_problem(four, 422, "invalid-input")
    assert body["field"] == "hashes"
    assert "at most 3 hashes" in body["detail"]
    low = limited.post("/v1/takedown-requests", json={"hashes": hashes_of(1, quality=10)})
    body = assert_problem(low, 422, "invalid-input")
    assert body["field"] == "hashes.2.quality"


def test_takedown_requests_are_rate_limited_per_address(limited: TestClient) -> None:
    assert send(limited, 1).status_code == 201
    assert send(limited, 2).status_code == 201
    response = send(limited, 3)
    body = assert_problem(response, 429, "rate-limited")
    assert int(response.headers["Retry-After"]) >= 1
    assert "network address" in body["detail"]


def test_status_look_ups_are_rate_limited_and_guesses_count(limited: TestClient) -> None:
    made = send(limited).json()
    for n in range(3):
        assert (
            limited.get(
                f"/v1/takedown-requests/{500 + n}", headers={TOKEN_HEADER: "guess"}
            ).status_code
            == 404
        )
    assert (
        limited.get(made["status_url"], headers={TOKEN_HEADER: made["status_token"]}).status_code
        == 200
    )
    response = limited.get(made["status_url"], headers={TOKEN_HEADER: made["status_token"]})
    assert_problem(response, 429, "rate-limited")
    assert int(response.headers["Retry-After"]) >= 1


def test_reviewers_see_what_was_shared_and_the_status_follows_the_decision(
    client: TestClient,
    reviewer_key: dict[str, str],
    platform_key: dict[str, str],
    db: Database,
    reviewer: Principal,
    settings: Settings,
) -> None:
    made = send(client, contact="me@example.org", message="please").json()
    review_url = f"/v1/takedown-requests/{made['id']}/review"
    assert_problem(client.get(review_url), 401, "authentication-required")
    assert_problem(client.get(review_url, headers=platform_key), 403, "permission-denied")
    assert_problem(
        client.get("/v1/takedown-requests/999/review", headers=reviewer_key), 404, "not-found"
    )
    shown = client.get(review_url, headers=reviewer_key)
    assert shown.status_code == 200, shown.text
    assert shown.json()["contact"] == "me@example.org"
    assert shown.json()["hashes"] == hashes_of(1)
    with db.session() as s:
        case_id = s.get(TakedownRequest, made["id"]).case_id  # type: ignore[union-attr]
        cases.decide(
            s, settings, case_id, outcome=Outcome.VIOLATING, label="A1", note="", actor=reviewer
        )
    status = client.get(made["status_url"], headers={TOKEN_HEADER: made["status_token"]})
    assert status.json()["status"] == "in_place"
    assert status.json()["in_place_since"] is not None
    banked = client.get("/v1/banks/SURVIVOR_REQUESTS/entries", headers=reviewer_key).json()
    assert [e["value"] for e in banked["items"]] == [h["value"] for h in hashes_of(1)]


def _wait_for(check: Any, timeout: float = 15.0) -> Any:
    import time

    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.05)


def test_a_takedown_from_request_to_blocked_upload_through_the_api(
    client: TestClient,
    make_key: KeyFactory,
    reviewer_key: dict[str, str],
    db: Database,
) -> None:
    """Survivor sends hashes; a platform scanned a matching upload earlier; a reviewer
    approves through /v1/cases; the requester sees "in place"; the earlier upload is back in
    the queue and a new upload of the same bytes is blocked."""
    scanner = auth(make_key(sorted(INTEGRATION_SCOPES), kind=KeyKind.INTEGRATION))
    signals = [{"signal_type": "md5", "value": md5_of(1)}]
    earlier = client.post(
        "/v1/lookup", headers=scanner, json={"signals": signals, "content_id": "upload-41"}
    )
    assert earlier.status_code == 200, earlier.text
    assert earlier.json()["verdict"] == "allow"

    made = send(client).json()
    token = {TOKEN_HEADER: made["status_token"]}
    with db.session() as s:
        case_id = s.get(TakedownRequest, made["id"]).case_id  # type: ignore[union-attr]
    opened = client.get(f"/v1/cases/{case_id}", headers=reviewer_key)
    assert opened.status_code == 200, opened.text
    assert opened.json()["sources"] == ["survivor_request"]
    assert client.get(made["status_url"], headers=token).json()["status"] == "in_review"

    decided = client.post(
        f"/v1/cases/{case_id}/decision",
        headers=reviewer_key,
        json={"outcome": "violating", "label": "A1", "note": "hashes well formed"},
    )
    assert decided.status_code == 200, decided.text
    status = client.get(made["status_url"], headers=token).json()
    assert status["status"] == "in_place"
    assert status["in_place_since"] is not None
    assert "hashes well formed" not in str(status)

    queue = client.get(
        "/v1/cases", headers=reviewer_key, params={"subject_ref": "upload-41"}
    ).json()
    assert [c["sources"] for c in queue["items"]] == [["hash_match"]]

    def blocked() -> bool:
        again = client.post("/v1/lookup", headers=scanner, json={"signals": signals})
        return bool(again.json()["verdict"] == "block")

    assert _wait_for(blocked), "the survivor bank's entry never reached the matching index"
