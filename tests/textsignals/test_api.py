"""The text-signal endpoints: search checks, suggestions, URL checks, text checks, contact
checks, conversations producing a case, and bad input."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from shieldwall.audit.models import Event
from shieldwall.cases.models import Case
from shieldwall.db.engine import Database
from shieldwall.textsignals.models import ConversationMessage
from tests.api.problem_check import assert_problem
from tests.conftest import KeyFactory, auth

pytestmark = pytest.mark.db


def events(db: Database, kind: str) -> list[Event]:
    with db.session() as s:
        return list(s.scalars(select(Event).where(Event.kind == kind)))


# ---- search --------------------------------------------------------------------------------


@pytest.mark.usefixtures("lists")
def test_search_check_allow_warn_block_with_localised_message(
    client: TestClient, integration: dict[str, str], db: Database
) -> None:
    ok = client.post("/v1/search-check", headers=integration, json={"query": "cute puppies"})
    assert ok.status_code == 200, ok.text
    assert ok.json() == {"decision": "allow", "message": None, "matches": []}

    warn = client.post(
        "/v1/search-check", headers=integration, json={"query": "QUUX   f.e.e.d", "locale": "fr-CA"}
    )
    body = warn.json()
    assert body["decision"] == "warn"
    assert body["message"]["locale"] == "fr"
    assert any("STOP" in r["name"] for r in body["message"]["resources"])
    assert body["matches"][0]["category"] == "csam_seeking"

    # obfuscated: zero-width space, Cyrillic o, leetspeak
    block = client.post(
        "/v1/search-check", headers=integration, json={"query": "new z\u200b\u043erbl4x videos"}
    )
    body = block.json()
    assert body["decision"] == "block"
    assert body["message"]["locale"] == "en"
    assert any("Stop It Now" in r["name"] for r in body["message"]["resources"])
    match = body["matches"][0]
    assert (match["start"], match["end"]) == (4, 12)  # the span in the query as sent

    assert len(events(db, "search.warned")) == 1
    blocked = events(db, "search.blocked")
    assert len(blocked) == 1
    assert blocked[0].principles == [6]
    assert "zorblax" not in str(blocked[0].payload)  # ids only, never the query


@pytest.mark.usefixtures("lists")
def test_a_solicitation_term_does_not_block_search(
    client: TestClient, integration: dict[str, str]
) -> None:
    r = client.post("/v1/search-check", headers=integration, json={"query": "flarnit"})
    assert r.json()["decision"] == "allow"


@pytest.mark.usefixtures("lists")
def test_suggestions_filter_removes_only_leading_ones(
    client: TestClient, integration: dict[str, str], db: Database
) -> None:
    r = client.post(
        "/v1/suggestions-filter",
        headers=integration,
        json={"query": "zo", "suggestions": ["zoo hours", "zorblax pics", "zombie film"]},
    )
    assert r.json() == {"suggestions": ["zoo hours", "zombie film"], "removed": [1]}
    (event,) = events(db, "search.suggestions_removed")
    assert event.payload["removed"] == 1


def test_search_check_needs_the_scan_scope(client: TestClient, make_key: KeyFactory) -> None:
    from shieldwall.core.access import Scope

    key = auth(make_key([Scope.BANKS_READ]))
    r = client.post("/v1/search-check", headers=key, json={"query": "x"})
    assert_problem(r, 403, "permission-denied")
    assert client.post("/v1/search-check", json={"query": "x"}).status_code == 401


# ---- URLs and posts ------------------------------------------------------------------------


@pytest.mark.usefixtures("lists")
def test_url_check_normalises_and_matches_domains(
    client: TestClient, integration: dict[str, str], db: Database
) -> None:
    same = client.post(
        "/v1/url-check", headers=integration, json={"url": "HTTP://WWW.Bad.Example:80/gallery"}
    )
    assert same.json()["decision"] == "block"
    assert same.json()["urls"][0]["key"] == "bad.example/gallery"
    other = client.post("/v1/url-check", headers=integration, json={"url": "http://bad.example/"})
    assert other.json()["decision"] == "allow"
    sub = client.post(
        "/v1/url-check",
        headers=integration,
        json={"text": "look at cdn.worse[.]example/x now", "content_ref": "post-9"},
    )
    body = sub.json()
    assert body["decision"] == "block"
    assert body["case_id"] is not None
    with db.session() as s:
        case = s.get(Case, body["case_id"])
        assert case is not None
        assert case.subject_ref == "post-9"
        assert "url_match" in case.sources
    assert len(events(db, "url.matched")) == 2
    bad = client.post("/v1/url-check", headers=integration, json={"url": "javascript:alert(1)"})
    assert_problem(bad, 422, "invalid-input")
    both = client.post("/v1/url-check", headers=integration, json={"url": "a.b", "text": "x"})
    assert_problem(both, 422, "invalid-input")


@pytest.mark.usefixtures("lists")
def test_text_check_on_a_profile_opens_a_solicitation_case(
    client: TestClient, integration: dict[str, str], db: Database
) -> None:
    r = client.post(
        "/v1/text-check",
        headers=integration,
        json={"text": "bio: F L A R N I T here", "kind": "profile", "account_ref": "acct-3"},
    )
    body = r.json()
    assert body["decision"] == "block", body
    assert body["case_id"] is not None
    with db.session() as s:
        case = s.get(Case, body["case_id"])
        assert case is not None
        assert case.subject_kind == "account"
        assert "solicitation" in case.sources
    clean = client.post("/v1/text-check", headers=integration, json={"text": "hello world"})
    assert clean.json() == {"decision": "allow", "matches": [], "case_id": None}


# ---- contact checks ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("initiator", "target", "relationship", "action", "decision"),
    [
        ({"declared_age": 35}, {"declared_age": 12}, "none", "message", "block"),
        (
            {"declared_age": 35},
            {"estimated_band": "13_15"},
            "mutual_follows",
            "message",
            "require_consent",
        ),
        ({"declared_age": 35}, {"declared_age": 14}, "connected", "message", "warn"),
        ({}, {"declared_age": 14}, "connected", "message", "require_consent"),
        ({"declared_age": 35}, {"declared_age": 14}, "none", "view_profile", "block"),
        ({"declared_age": 15}, {"declared_age": 40}, "none", "message", "warn"),
        ({"declared_age": 15}, {"declared_age": 14}, "none", "message", "allow"),
        ({"declared_age": 30}, {"declared_age": 40}, "none", "message", "allow"),
        # a declared adult whose estimate says minor is treated as a minor
        (
            {"declared_age": 35},
            {"declared_age": 19, "estimated_band": "under_13"},
            "none",
            "follow",
            "block",
        ),
    ],
)
def test_contact_check_default_policy(
    client: TestClient,
    integration: dict[str, str],
    initiator: dict[str, Any],
    target: dict[str, Any],
    relationship: str,
    action: str,
    decision: str,
) -> None:
    r = client.post(
        "/v1/contact-check",
        headers=integration,
        json={
            "initiator": initiator,
            "target": target,
            "relationship": relationship,
            "action": action,
        },
    )
    assert r.status_code == 200, r.text
    assert r.json()["decision"] == decision


def test_contact_decisions_are_events_and_bad_ages_are_refused(
    client: TestClient, integration: dict[str, str], db: Database
) -> None:
    body = {
        "initiator": {"declared_age": 40},
        "target": {"declared_age": 9},
        "relationship": "none",
    }
    assert (
        client.post("/v1/contact-check", headers=integration, json=body).json()["decision"]
        == "block"
    )
    (event,) = events(db, "contact.decided")
    assert event.principles == [7]
    assert event.payload["decision"] == "block"
    bad = dict(body, target={"declared_age": -3})
    assert_problem(
        client.post("/v1/contact-check", headers=integration, json=bad), 422, "invalid-input"
    )


# ---- conversations -------------------------------------------------------------------------

T0 = datetime(2026, 11, 1, 20, 0, tzinfo=UTC)
GROOMING = [
    ("u-adult", "hey, how old are you?"),
    ("u-child", "13"),
    ("u-adult", "you look so mature for your age"),
    ("u-adult", "this is our little secret ok, don't tell your parents"),
    ("u-adult", "add me on snap, it's more private"),
]


def message(i: int, sender: str, text: str, conv: str = "c-1", **extra: Any) -> dict[str, Any]:
    other = "u-child" if sender == "u-adult" else "u-adult"
    return {
        "conversation_id": conv,
        "message_id": f"{conv}-m{i}",
        "sender": sender,
        "recipients": [other],
        "sent_at": (T0 + timedelta(minutes=i)).isoformat(),
        "text": text,
        **extra,
    }


def test_a_grooming_conversation_opens_a_case_with_sealed_excerpts(
    client: TestClient, integration: dict[str, str], db: Database
) -> None:
    ages = {
        "sender_age": {"declared_age": 34},
        "recipient_ages": {"u-child": {"declared_age": 13}},
    }
    first = client.post(
        "/v1/messages",
        headers=integration,
        json={"messages": [message(0, "u-adult", GROOMING[0][1], **ages)]},
    )
    assert first.status_code == 200, first.text
    conv = first.json()["conversations"][0]
    assert conv["over_threshold"] is False
    assert conv["case_id"] is None
    assert {i["indicator"] for i in conv["indicators"]} == {"age_question", "adult_minor_pair"}

    rest = [message(i, s, t) for i, (s, t) in enumerate(GROOMING) if i > 0]
    r = client.post("/v1/messages", headers=integration, json={"messages": rest})
    conv = r.json()["conversations"][0]
    assert conv["over_threshold"] is True
    assert conv["case_id"] is not None
    ids = {i["indicator"] for i in conv["indicators"]}
    assert {"age_question", "secrecy_request", "platform_move", "appearance_compliment"} <= ids
    with db.session() as s:
        case = s.get(Case, conv["case_id"])
        assert case is not None
        assert case.subject_kind == "conversation"
        assert "grooming" in case.sources
        rows = list(s.scalars(select(ConversationMessage)))
        assert len(rows) == 5
        assert all(r.preserved for r in rows)
        assert all(b"secret" not in r.sealed_text for r in rows)  # sealed at rest
    (flagged,) = events(db, "conversation.flagged")
    assert flagged.principles == [3]
    assert "secret" not in str(flagged.payload)

    # resending the same batch changes nothing
    again = client.post("/v1/messages", headers=integration, json={"messages": rest})
    assert again.json()["duplicates"] == 4
    assert again.json()["accepted"] == 0


def test_the_minor_s_own_words_do_not_count_against_them(
    client: TestClient, integration: dict[str, str]
) -> None:
    msgs = [
        message(
            0,
            "u-child",
            "how old are you? don't tell your parents lol, add me on snap",
            sender_age={"declared_age": 14},
            recipient_ages={"u-adult": {"declared_age": 30}},
        ),
    ]
    conv = client.post("/v1/messages", headers=integration, json={"messages": msgs}).json()
    assert conv["conversations"][0]["indicators"] == []


def test_window_is_bounded_and_old_texts_are_deleted(
    client: TestClient, integration: dict[str, str], db: Database, settings: Any
) -> None:
    settings.conversation_window_messages = 3
    msgs = [message(i, "u-adult", f"ordinary message {i}") for i in range(6)]
    r = client.post("/v1/messages", headers=integration, json={"messages": msgs})
    assert r.json()["conversations"][0]["messages_in_window"] == 3
    with db.session() as s:
        kept = sorted(m.message_ref for m in s.scalars(select(ConversationMessage)))
    assert kept == ["c-1-m3", "c-1-m4", "c-1-m5"]


def test_bad_messages_are_refused_whole(
    client: TestClient, integration: dict[str, str], db: Database
) -> None:
    huge = message(0, "u-adult", "x" * 20_001)
    r = client.post("/v1/messages", headers=integration, json={"messages": [huge]})
    assert r.status_code in (413, 422)
    lone = message(1, "u-adult", "\ud800 hi")  # a lone surrogate, as JSON's \u escapes allow
    r = client.post(
        "/v1/messages",
        headers={**integration, "content-type": "application/json"},
        content=json.dumps({"messages": [lone]}),
    )
    assert_problem(r, 422, "invalid-input")  # refused cleanly, nothing stored
    r = client.post(
        "/v1/messages",
        headers={**integration, "content-type": "application/json"},
        content=b'{"messages": [{"text": "\xff\xfe"}]}',
    )
    assert r.status_code in (400, 422)
    assert (
        client.post("/v1/messages", headers=integration, json={"messages": []}).status_code == 422
    )


class _WordCounter:
    """A stand-in text classifier: the share of words that are "zorb". Claims nothing else."""

    name = "wordcount"

    def classify(self, content: Any) -> dict[str, float]:
        words = content.data.decode("utf-8").lower().split()
        return {"zorb_share": words.count("zorb") / max(1, len(words))}


def test_a_text_classifier_plug_in_adds_to_the_risk(
    client: TestClient,
    integration: dict[str, str],
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from shieldwall.integrations.classifiers import ClassifierSet
    from shieldwall.integrations.classifiers.config import ClassifierConfig
    from shieldwall.textsignals import conversations

    config = ClassifierConfig(name="wordcount", kind="stand-in", thresholds={"zorb_share": 0.5})
    fake = ClassifierSet({"wordcount": (_WordCounter(), config)})
    seen: list[Any] = []

    def classifiers(s: Any) -> ClassifierSet:
        seen.append(s)
        return fake

    monkeypatch.setattr(conversations, "text_classifiers", classifiers)
    msgs = [message(0, "u-adult", "zorb zorb hello"), message(1, "u-adult", "how old are you")]
    conv = client.post("/v1/messages", headers=integration, json={"messages": msgs}).json()
    ids = {i["indicator"]: i["weight"] for i in conv["conversations"][0]["indicators"]}
    assert ids["classifier_wordcount_zorb_share"] == 0.5
    assert "age_question" in ids
    assert seen


def test_a_failing_text_classifier_never_breaks_ingest(
    client: TestClient, integration: dict[str, str], settings: Any
) -> None:
    from shieldwall.integrations.classifiers.config import ClassifierConfig

    # the stand-in classifier only reads pictures: on text it fails, which must not matter
    settings.text_classifiers = [ClassifierConfig(name="standin", kind="stand-in")]
    r = client.post(
        "/v1/messages", headers=integration, json={"messages": [message(0, "u-adult", "hi")]}
    )
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] == 1


@pytest.mark.usefixtures("lists")
def test_a_message_with_a_listed_url_is_blocked_and_joins_a_case(
    client: TestClient, integration: dict[str, str], db: Database
) -> None:
    msgs = [
        message(0, "u-adult", "hello there"),
        message(1, "u-adult", "look: hxxp://cdn.worse.example/a"),
    ]
    conv = client.post("/v1/messages", headers=integration, json={"messages": msgs}).json()
    out = conv["conversations"][0]
    assert out["blocked_messages"] == ["c-1-m1"]
    assert out["case_id"] is not None
    assert out["over_threshold"] is False
    with db.session() as s:
        case = s.get(Case, out["case_id"])
        assert case is not None
        assert "url_match" in case.sources


def test_a_not_violating_decision_releases_the_preserved_texts(
    client: TestClient, integration: dict[str, str], db: Database, settings: Any
) -> None:
    from shieldwall.cases import service as cases
    from shieldwall.cases.schemas import Outcome
    from shieldwall.core.access import Role
    from shieldwall.users import service as users
    from tests.conftest import make_user

    msgs = [message(i, s, t) for i, (s, t) in enumerate(GROOMING)]
    out = client.post("/v1/messages", headers=integration, json={"messages": msgs}).json()
    case_id = out["conversations"][0]["case_id"]
    reviewer = make_user(db, "rita", Role.REVIEWER)
    with db.session() as s:
        cases.decide(
            s,
            settings,
            case_id,
            outcome=Outcome.NOT_VIOLATING,
            label=None,
            note="",
            actor=users.principal_for(reviewer),
        )
    with db.session() as s:
        rows = list(s.scalars(select(ConversationMessage)))
        assert rows
        assert not any(r.preserved for r in rows)
    assert len(events(db, "conversation.released")) == 1
    # later messages of the conversation are no longer kept for that case
    later = client.post(
        "/v1/messages", headers=integration, json={"messages": [message(9, "u-adult", "ok")]}
    ).json()
    assert later["conversations"][0]["case_id"] is None


def test_conversation_state_for_reviewers_without_texts(
    client: TestClient, integration: dict[str, str], admin_key: str
) -> None:
    msgs = [message(i, s, t) for i, (s, t) in enumerate(GROOMING)]
    client.post("/v1/messages", headers=integration, json={"messages": msgs})
    # a platform's integration key cannot read reviewers' material
    assert_problem(
        client.get("/v1/conversations/c-1", headers=integration), 403, "permission-denied"
    )
    r = client.get("/v1/conversations/c-1", headers=auth(admin_key))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["case_id"] is not None
    assert "secrecy_request" in body["indicators"]
    assert len(body["messages"]) == 5
    assert "secret" not in r.text  # never the texts
    assert_problem(client.get("/v1/conversations/nope", headers=auth(admin_key)), 404, "not-found")


def test_nul_and_control_characters_are_refused_not_stored(
    client: TestClient, integration: dict[str, str]
) -> None:
    # PostgreSQL text cannot hold NUL: these must be clean 422s on every database
    bad = [
        ("/v1/term-lists", {"name": "L", "description": "a\u0000b"}),
        ("/v1/messages", {"messages": [message(0, "u\u0000x", "hi")]}),
        ("/v1/messages", {"messages": [message(0, "u-adult", "hi", conv="c\u0000")]}),
        (
            "/v1/messages",
            {"messages": [message(0, "u-adult", "hi", recipient_ages={"a\u0000": {}})]},
        ),
        ("/v1/search-check", {"query": "x", "account_ref": "a\u0000"}),
    ]
    for path, body in bad:
        assert_problem(client.post(path, headers=integration, json=body), 422, "invalid-input")
    client.post("/v1/term-lists", headers=integration, json={"name": "L"})
    r = client.post(
        "/v1/term-lists/L/entries",
        headers=integration,
        json={"kind": "term", "value": "zorb\u0000", "category": "csam_seeking"},
    )
    assert_problem(r, 422, "invalid-input")
    # a NUL inside a message's text is fine: texts are sealed, never stored as text
    ok = client.post(
        "/v1/messages",
        headers=integration,
        json={"messages": [message(1, "u-adult", "how old\u0000are you")]},
    )
    assert ok.status_code == 200, ok.text
