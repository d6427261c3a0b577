"""GET /v1/actions: who may read, filters, delivery state."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from shieldwall.apikeys.schemas import KeyKind
from shieldwall.config import Settings
from shieldwall.core.access import INTEGRATION_SCOPES, ROLE_SCOPES, Role
from shieldwall.db.engine import Database
from tests.api.problem_check import assert_problem
from tests.conftest import KeyFactory, auth, make_user
from tests.jobs.helpers import request, wait_until
from tests.jobs.receiver import Receiver

pytestmark = pytest.mark.db


def test_reviewers_read_actions_and_platform_keys_do_not(
    client: TestClient, make_key: KeyFactory, db: Database
) -> None:
    reviewer = make_user(db, "rita", Role.REVIEWER)
    reviewer_key = auth(make_key(sorted(ROLE_SCOPES[Role.REVIEWER]), owner=reviewer))
    assert client.get("/v1/actions", headers=reviewer_key).status_code == 200
    platform = auth(make_key(sorted(INTEGRATION_SCOPES), kind=KeyKind.INTEGRATION))
    assert_problem(client.get("/v1/actions", headers=platform), 403, "permission-denied")
    assert_problem(client.get("/v1/actions"), 401, "authentication-required")


def test_the_server_sends_the_webhook_after_commit_and_lists_its_delivery(
    client: TestClient,
    admin_key: str,
    db: Database,
    settings: Settings,
    receiver: Receiver,
    app: FastAPI,
) -> None:
    assert app.state.outbox_worker.handlers  # the lifespan started the worker
    action = request(db, settings, key="case:4:content.remove", case_id=4)
    (delivery,) = receiver.wait_for(1)  # woken by the commit, not the poll
    assert delivery.key == "case:4:content.remove"

    def state() -> str:
        body = client.get("/v1/actions", params={"case_id": 4}, headers=auth(admin_key)).json()
        return str(body["items"][0]["delivery"]["state"])

    wait_until(lambda: state() == "sent", what="the delivery recorded as sent")
    body = client.get("/v1/actions", params={"case_id": 4}, headers=auth(admin_key)).json()
    (item,) = body["items"]
    assert item["id"] == action.id
    assert item["type"] == "content.remove"
    assert item["key"] == "case:4:content.remove"
    assert item["delivery"]["attempts"] == 1
    assert item["delivery"]["delivered_at"] is not None
    assert body["next_before_id"] is None


def test_filters_and_paging(
    client: TestClient, admin_key: str, db: Database, settings: Settings
) -> None:
    unsent = settings.model_copy(update={"webhook_url": ""})
    for n in range(3):
        request(db, unsent, key=f"k{n}", case_id=9, subject_ref=f"post-{n}")
    request(db, unsent, key="other", case_id=10, subject_ref="post-9")
    headers = auth(admin_key)
    page = client.get("/v1/actions", params={"case_id": 9, "limit": 2}, headers=headers).json()
    assert [i["subject_ref"] for i in page["items"]] == ["post-2", "post-1"]
    assert page["items"][0]["delivery"]["state"] == "not_sent"
    rest = client.get(
        "/v1/actions",
        params={"case_id": 9, "before_id": page["next_before_id"]},
        headers=headers,
    ).json()
    assert [i["subject_ref"] for i in rest["items"]] == ["post-0"]
    only = client.get(
        "/v1/actions", params={"subject_kind": "content", "subject_ref": "post-1"}, headers=headers
    ).json()
    assert len(only["items"]) == 1
    assert (
        client.get("/v1/actions", params={"type": "content.block"}, headers=headers).json()["items"]
        == []
    )


@pytest.mark.parametrize(
    "params",
    [
        {"case_id": 0},
        {"type": "content.delete"},
        {"subject_kind": "user"},
        {"limit": 501},
        {"subject_ref": "x" * 201},
    ],
)
def test_bad_filters_are_422(client: TestClient, admin_key: str, params: dict[str, object]) -> None:
    assert_problem(
        client.get("/v1/actions", params=params, headers=auth(admin_key)), 422, "invalid-input"
    )
