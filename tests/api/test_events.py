"""/v1/events: newest first, keyset paging, filters, and chain verification."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from shieldwall.audit import service as audit
from shieldwall.audit.models import Event
from shieldwall.db.engine import Database
from tests.conftest import auth

AT = datetime(2090, 1, 1, 12, 0, 0, tzinfo=UTC)
LONG_AGO = datetime(1990, 6, 1, tzinfo=UTC)


def write(
    db: Database, kind: str, *, principles: Iterable[int] = (), at: datetime | None = None,
    subject: str = "",
) -> int:
    with db.session() as session:
        event = audit.record(session, kind, actor="system:tests", subject=subject,
                             principles=principles, payload={"n": 1}, at=at)
        return event.id


def all_ids(db: Database) -> list[int]:
    with db.session() as session:
        return list(session.scalars(select(Event.id).order_by(Event.id.desc())))


def page(client: TestClient, key: str, **params: Any) -> dict[str, Any]:
    response = client.get("/v1/events", params=params, headers=auth(key))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_newest_first(client: TestClient, admin_key: str, db: Database) -> None:
    for i in range(4):
        write(db, "test.happened", subject=f"thing:{i}")
    body = page(client, admin_key, limit=500)
    ids = [e["id"] for e in body["items"]]
    assert ids == all_ids(db)
    assert ids == sorted(ids, reverse=True)
    assert body["next_before_id"] is None
    newest = body["items"][0]
    assert (newest["kind"], newest["subject"]) == ("test.happened", "thing:3")
    assert set(newest) >= {"id", "occurred_at", "actor", "kind", "subject", "principles",
                           "payload", "prev_hash", "hash"}


@pytest.mark.parametrize("limit", [1, 2, 3, 5])
def test_paging_walks_every_event_once(
    client: TestClient, admin_key: str, db: Database, limit: int
) -> None:
    for i in range(7):
        write(db, "test.paged", subject=f"p:{i}")
    expected = all_ids(db)
    seen: list[int] = []
    params: dict[str, Any] = {"limit": limit}
    for _ in range(len(expected) + 2):
        body = page(client, admin_key, **params)
        assert len(body["items"]) <= limit
        seen.extend(e["id"] for e in body["items"])
        if body["next_before_id"] is None:
            break
        assert body["next_before_id"] == body["items"][-1]["id"]
        params["before_id"] = body["next_before_id"]
    else:
        pytest.fail("paging never ended")
    assert seen == expected


def test_before_id_excludes_that_event(client: TestClient, admin_key: str, db: Database) -> None:
    ids = [write(db, "test.paged") for _ in range(3)]
    body = page(client, admin_key, before_id=ids[-1], limit=500)
    got = [e["id"] for e in body["items"]]
    assert ids[-1] not in got
    assert got[0] == ids[-2]


def test_filter_by_kind_and_prefix(client: TestClient, admin_key: str, db: Database) -> None:
    alphas = [write(db, "test.alpha"), write(db, "test.alpha")]
    beta = write(db, "test.beta")
    write(db, "other.alpha")
    by_kind = page(client, admin_key, kind="test.alpha")["items"]
    assert [e["id"] for e in by_kind] == alphas[::-1]
    assert {e["kind"] for e in by_kind} == {"test.alpha"}
    by_prefix = page(client, admin_key, kind_prefix="test.")["items"]
    assert [e["id"] for e in by_prefix] == [beta, *alphas[::-1]]
    assert page(client, admin_key, kind="test.gamma")["items"] == []


def test_kind_prefix_treats_wildcards_literally(
    client: TestClient, admin_key: str, db: Database
) -> None:
    write(db, "test.alpha")
    assert page(client, admin_key, kind_prefix="%")["items"] == []
    assert page(client, admin_key, kind_prefix="test_")["items"] == []


def test_filter_by_principle(client: TestClient, admin_key: str, db: Database) -> None:
    both = write(db, "test.matched", principles=[1, 3])
    three = write(db, "test.matched", principles=[3])
    eleven = write(db, "test.published", principles=[11])
    write(db, "test.other")

    got = page(client, admin_key, principle=3)["items"]
    assert [e["id"] for e in got] == [three, both]
    assert all(3 in e["principles"] for e in got)
    assert [e["id"] for e in page(client, admin_key, principle=11)["items"]] == [eleven]
    assert [e["id"] for e in page(client, admin_key, principle=1)["items"]] == [both]
    assert page(client, admin_key, principle=7)["items"] == []


def test_principle_filter_pages(client: TestClient, admin_key: str, db: Database) -> None:
    wanted = [write(db, "test.matched", principles=[2]) for _ in range(3)]
    for _ in range(3):
        write(db, "test.noise")
    first = page(client, admin_key, principle=2, limit=2)
    assert [e["id"] for e in first["items"]] == [wanted[2], wanted[1]]
    rest = page(client, admin_key, principle=2, limit=2, before_id=first["next_before_id"])
    assert [e["id"] for e in rest["items"]] == [wanted[0]]
    assert rest["next_before_id"] is None


@pytest.mark.parametrize("principle", ["0", "12", "-1", "one"])
def test_bad_principle_is_422(client: TestClient, admin_key: str, principle: str) -> None:
    response = client.get("/v1/events", params={"principle": principle}, headers=auth(admin_key))
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize(
    ("since", "included"),
    [
        ("2090-01-01T11:59:59", True),          # naive: taken as UTC
        ("2090-01-01T12:00:01", False),
        ("2090-01-01T12:00:00Z", True),
        ("2090-01-01T13:30:00+02:00", True),    # 11:30 UTC
        ("2090-01-01T11:30:00-02:00", False),   # 13:30 UTC
        ("2090-01-01", True),
    ],
)
def test_since(
    client: TestClient, admin_key: str, db: Database, since: str, included: bool
) -> None:
    future = write(db, "test.timed", at=AT)
    write(db, "test.timed", at=LONG_AGO)
    got = [e["id"] for e in page(client, admin_key, kind="test.timed", since=since)["items"]]
    assert got == ([future] if included else [])


@pytest.mark.parametrize(
    ("until", "expected"),
    [("1990-06-01T00:00:01", ["old"]), ("1990-06-01T00:00:00", []),
     ("2091-01-01T00:00:00", ["future", "old"])],
)
def test_until_is_exclusive_and_naive_is_utc(
    client: TestClient, admin_key: str, db: Database, until: str, expected: list[str]
) -> None:
    ids = {"old": write(db, "test.timed", at=LONG_AGO), "future": write(db, "test.timed", at=AT)}
    got = [e["id"] for e in page(client, admin_key, kind="test.timed", until=until)["items"]]
    assert got == [ids[name] for name in expected]


def test_filter_by_actor_and_subject(client: TestClient, admin_key: str, db: Database) -> None:
    write(db, "test.subjected", subject="case:9")
    actor = client.get("/v1/me", headers=auth(admin_key)).json()["actor"]
    client.post("/v1/users", headers=auth(admin_key),
                json={"username": "logged", "password": "a long enough password", "role":
                      "analyst"})
    mine = page(client, admin_key, actor=actor)["items"]
    assert [e["kind"] for e in mine] == ["user.created"]
    assert [e["kind"] for e in page(client, admin_key, subject="case:9")["items"]] == \
        ["test.subjected"]


def test_verify_on_a_fresh_chain(client: TestClient, admin_key: str, db: Database) -> None:
    write(db, "test.happened", principles=[1, 11])
    response = client.get("/v1/events/verify", headers=auth(admin_key))
    assert response.status_code == 200
    report = response.json()
    assert report["ok"] is True
    assert report["checked"] == len(all_ids(db))
    assert report["first_bad_id"] is None
    assert report["reason"] is None
    newest = page(client, admin_key, limit=1)["items"][0]
    assert report["head_hash"] == newest["hash"]


def test_events_link_into_a_chain(client: TestClient, admin_key: str, db: Database) -> None:
    for _ in range(3):
        write(db, "test.linked")
    items = page(client, admin_key, limit=500)["items"]
    for newer, older in pairwise(items):
        assert newer["prev_hash"] == older["hash"]
    assert items[-1]["prev_hash"] == "0" * 64
