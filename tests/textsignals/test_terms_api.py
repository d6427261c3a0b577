"""/v1/term-lists: who may call what, entries of every kind, import with line-numbered
rejections, export, and the matcher following changes."""

from __future__ import annotations

import json
import logging
import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from shieldwall.audit.models import Event
from shieldwall.core.access import ROLE_SCOPES, Role
from shieldwall.core.text import term_hash
from shieldwall.db.engine import Database
from shieldwall.textsignals.models import TermEntry, TermList
from tests.api.problem_check import assert_problem
from tests.conftest import KeyFactory, auth, make_user

pytestmark = pytest.mark.db

CSV = "kind,value,category,severity,language,word_count,source_record_id\n"


def create(client: TestClient, headers: dict[str, str], name: str = "terms") -> None:
    r = client.post("/v1/term-lists", headers=headers, json={"name": name, "description": "d"})
    assert r.status_code == 201, r.text


def test_readers_read_and_writers_write(
    client: TestClient, integration: dict[str, str], make_key: KeyFactory, db: Database
) -> None:
    create(client, integration)
    analyst = make_user(db, "ana", Role.ANALYST)
    key = auth(make_key(sorted(ROLE_SCOPES[Role.ANALYST]), owner=analyst))
    assert client.get("/v1/term-lists", headers=key).status_code == 200
    assert_problem(
        client.post("/v1/term-lists", headers=key, json={"name": "x"}), 403, "permission-denied"
    )
    assert_problem(
        client.post("/v1/term-lists", headers=integration, json={"name": "terms"}),
        409,
        "conflict",
    )


def test_entries_of_every_kind_and_their_validation(
    client: TestClient, integration: dict[str, str]
) -> None:
    create(client, integration)
    good = [
        {"kind": "term", "value": "Zorblax", "category": "csam_seeking", "severity": "high"},
        {"kind": "phrase", "value": "quux feed", "category": "solicitation", "language": "en"},
        {"kind": "regex", "value": r"\bzorb\w+\b", "category": "csam_seeking"},
        {"kind": "hashed", "value": term_hash("flarnit"), "category": "advertising"},
        {"kind": "url", "value": "HTTP://Bad.Example/a/", "category": "csam_url"},
        {"kind": "domain", "value": "Worse.Example", "category": "csam_url"},
    ]
    r = client.post("/v1/term-lists/terms/entries", headers=integration, json=good)
    assert r.status_code == 200, r.text
    assert r.json()["added"] == 6
    # the same again (a term in another spelling is the same entry)
    again = client.post(
        "/v1/term-lists/terms/entries",
        headers=integration,
        json={"kind": "term", "value": "ZORBLAX", "category": "csam_seeking"},
    )
    assert again.json()["duplicates"] == 1
    page = client.get("/v1/term-lists/terms/entries", headers=integration).json()
    values = {e["kind"]: e["value"] for e in page["items"]}
    assert values["url"] == "bad.example/a"
    assert values["domain"] == "worse.example"
    for bad in [
        {"kind": "regex", "value": "(a+)+$", "category": "csam_seeking"},
        {"kind": "regex", "value": "(unclosed", "category": "csam_seeking"},
        {"kind": "term", "value": "zorb", "category": "no_such_category"},
        {"kind": "term", "value": "two words", "category": "csam_seeking"},
        {"kind": "hashed", "value": "abc", "category": "csam_seeking"},
        {"kind": "url", "value": "javascript:alert(1)", "category": "csam_url"},
        {"kind": "term", "value": "!!!", "category": "csam_seeking"},
        {"kind": "term", "value": "x", "category": "csam_seeking", "severity": "extreme"},
    ]:
        r = client.post("/v1/term-lists/terms/entries", headers=integration, json=bad)
        assert_problem(r, 422, "invalid-input")


def test_import_rejects_bad_lines_with_their_numbers_and_export_round_trips(
    client: TestClient, integration: dict[str, str], db: Database
) -> None:
    create(client, integration)
    text = (
        CSV
        + "term,zorblax,csam_seeking,high,en,,ref-1\n"
        + "regex,(a+)+$,csam_seeking,high,,,\n"
        + "term,zorb,not_a_category,low,,,\n"
        + 'phrase,"quux, feed",solicitation,medium,fr,,\n'
        + "url,http://bad.example/x,csam_url,high,,,\n"
        + "hashed,"
        + term_hash("two words")
        + ",advertising,low,,2,\n"
        + "term,only-two-fields\n"
    )
    r = client.post(
        "/v1/term-lists/terms/import",
        headers=integration,
        files={"file": ("list.csv", text.encode(), "text/csv")},
    )
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["added"] == 4
    assert report["rejected"] == 3
    assert [x["line"] for x in report["rejections"]] == [3, 4, 8]
    assert "nested quantifiers" in report["rejections"][0]["reason"]
    assert "category" in report["rejections"][1]["reason"]

    exported = client.get("/v1/term-lists/terms/export?format=jsonl", headers=integration)
    lines = [json.loads(x) for x in exported.text.splitlines()]
    assert {x["kind"] for x in lines} == {"term", "phrase", "url", "hashed"}
    create(client, integration, "copy")
    again = client.post(
        "/v1/term-lists/copy/import",
        headers=integration,
        files={"file": ("copy.jsonl", exported.content, "application/jsonl")},
    )
    assert again.json()["added"] == 4
    assert again.json()["rejected"] == 0
    with db.session() as s:
        kinds = [e.kind for e in s.scalars(select(Event).where(Event.kind == "terms.imported"))]
    assert len(kinds) == 2


@pytest.mark.parametrize(
    "pattern",
    [
        "a{99999999}",
        "a{1001}",
        "(?:a{1000}){1000}",
        "(a{100}){100}{100}",
        "(?:a{100}){100}b{100}",
        "(?x)a{9999 9999}",
        "(" * 400 + ")" * 400,
    ],
)
def test_regex_entries_with_huge_repeats_are_refused_quickly(
    client: TestClient, integration: dict[str, str], pattern: str
) -> None:
    # compiling a{99999999} took ~23 GB and got the server OOM-killed
    create(client, integration)
    started = time.monotonic()
    r = client.post(
        "/v1/term-lists/terms/entries",
        headers=integration,
        json={"kind": "regex", "value": pattern, "category": "csam_seeking", "severity": "low"},
    )
    assert time.monotonic() - started < 1
    detail = assert_problem(r, 422, "invalid-input")["detail"]
    assert any(word in detail for word in ("repeat", "nested", "invalid regular expression"))
    assert client.get("/v1/term-lists/terms", headers=integration).json()["entries"] == 0


def test_import_rejects_a_huge_repeat_and_keeps_the_other_lines(
    client: TestClient, integration: dict[str, str]
) -> None:
    create(client, integration)
    text = (
        CSV
        + "term,zorblax,csam_seeking,high,,,\n"
        + "regex,a{99999999},csam_seeking,low,,,\n"
        + "regex,(?:a{1000}){1000},csam_seeking,low,,,\n"
        + 'regex,"\\bzorb\\w{0,20} pics?\\b",csam_seeking,high,,,\n'
    )
    started = time.monotonic()
    r = client.post(
        "/v1/term-lists/terms/import",
        headers=integration,
        files={"file": ("list.csv", text.encode(), "text/csv")},
    )
    assert time.monotonic() - started < 2
    assert r.status_code == 200, r.text
    report = r.json()
    assert (report["added"], report["rejected"]) == (2, 2)
    assert [x["line"] for x in report["rejections"]] == [3, 4]
    assert "repeat count above 1000" in report["rejections"][0]["reason"]
    assert "repeats expand" in report["rejections"][1]["reason"]


def test_a_stored_pattern_over_the_limits_does_not_stop_the_checks(
    client: TestClient,
    integration: dict[str, str],
    db: Database,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # a row stored before the check existed is skipped when the matcher is rebuilt
    create(client, integration)
    added = client.post(
        "/v1/term-lists/terms/entries",
        headers=integration,
        json={"kind": "term", "value": "zorblax", "category": "csam_seeking", "severity": "high"},
    )
    assert added.status_code == 200, added.text
    with db.session() as s:
        term_list = s.scalars(select(TermList).where(TermList.name == "terms")).one()
        old = TermEntry(
            list_id=term_list.id,
            kind="regex",
            value="a{99999999}",
            value_key="0" * 64,
            category="csam_seeking",
            severity="high",
            added_by="before-the-check",
        )
        s.add(old)
        term_list.version += 1
        s.flush()
        old_id = old.id
    caplog.set_level(logging.WARNING, logger="shieldwall")
    started = time.monotonic()
    r = client.post("/v1/search-check", headers=integration, json={"query": "zorblax"})
    assert time.monotonic() - started < 2
    assert r.json()["decision"] == "block"
    skipped = [r for r in caplog.records if r.getMessage() == "text.pattern_skipped"]
    assert [r.__dict__["entry_id"] for r in skipped] == [old_id]
    assert "99999999" not in caplog.text


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"\xff\xfe" + "kind".encode("utf-16-le"), "UTF-16"),
        (CSV.encode() + b"term,\xff\xff,csam_seeking,,,,\n", "line 2 is not UTF-8"),
        (b"value,category\nx,csam_seeking\n", "not a term-list CSV header"),
        (b"", "empty"),
    ],
)
def test_unreadable_files_import_nothing(
    client: TestClient, integration: dict[str, str], content: bytes, needle: str
) -> None:
    create(client, integration)
    r = client.post(
        "/v1/term-lists/terms/import",
        headers=integration,
        files={"file": ("x.csv", content, "text/csv")},
    )
    assert_problem(r, 422, "invalid-input")
    assert needle in r.json()["detail"]
    assert client.get("/v1/term-lists/terms", headers=integration).json()["entries"] == 0


def test_the_matcher_follows_list_changes(client: TestClient, integration: dict[str, str]) -> None:
    create(client, integration)

    def decision() -> str:
        r = client.post("/v1/search-check", headers=integration, json={"query": "zorblax"})
        return str(r.json()["decision"])

    assert decision() == "allow"
    added = client.post(
        "/v1/term-lists/terms/entries",
        headers=integration,
        json={"kind": "term", "value": "zorblax", "category": "csam_seeking", "severity": "high"},
    )
    assert decision() == "block"
    client.patch("/v1/term-lists/terms", headers=integration, json={"enabled": False})
    assert decision() == "allow"
    client.patch("/v1/term-lists/terms", headers=integration, json={"enabled": True})
    entry_id = added.json()["ids"][0]
    r = client.delete(f"/v1/term-lists/terms/entries/{entry_id}", headers=integration)
    assert r.status_code == 204
    assert decision() == "allow"
    assert client.delete("/v1/term-lists/terms", headers=integration).status_code == 200
    assert_problem(client.get("/v1/term-lists/terms", headers=integration), 404, "not-found")
