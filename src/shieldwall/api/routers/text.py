"""Text checks: search deterrence (principle 6), URL lists (1, 4), posts and profiles (4),
conversations (3) and child-contact checks (7). All need the ``scan`` scope, which a
platform's integration key holds."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from shieldwall.api.deps import DbSession, SettingsDep, require
from shieldwall.audit import service as audit
from shieldwall.core.access import Principal, Scope
from shieldwall.core.errors import ServiceUnavailable
from shieldwall.textsignals import contact, conversations, matching
from shieldwall.textsignals.schemas import (
    ContactCheckIn,
    ContactCheckOut,
    ConversationStateOut,
    MessagesIn,
    MessagesOut,
    SearchCheckIn,
    SearchCheckOut,
    SuggestionsIn,
    SuggestionsOut,
    TextCheckIn,
    TextCheckOut,
    UrlCheckIn,
    UrlCheckOut,
)

router = APIRouter(prefix="/v1", tags=["text signals"])
Scanner = Annotated[Principal, require(Scope.SCAN)]


@router.post("/search-check", summary="Check a search query: allow, warn or block (principle 6)")
def search_check(
    body: SearchCheckIn, db: DbSession, settings: SettingsDep, actor: Scanner
) -> SearchCheckOut:
    """``warn``: show the deterrence message with the results; ``block``: show no results,
    only the message. The message is in the caller's locale where available (en, fr
    shipped) and carries help resources. Warned and blocked queries are events (never the
    query text)."""
    return matching.search_check(db, settings, body, actor=actor)


@router.post("/suggestions-filter", summary="Remove autocomplete suggestions leading to abuse")
def suggestions_filter(
    body: SuggestionsIn, db: DbSession, settings: SettingsDep, actor: Scanner
) -> SuggestionsOut:
    return matching.filter_suggestions(db, settings, body, actor=actor)


@router.post("/url-check", summary="Check a URL, or every URL in a text, against URL lists")
def url_check(
    body: UrlCheckIn, db: DbSession, settings: SettingsDep, actor: Scanner
) -> UrlCheckOut:
    """A listed URL or domain answers ``block``; with a content_ref or account_ref it also
    opens or joins a case."""
    return matching.url_check(db, settings, body, actor=actor)


@router.post("/text-check", summary="Check a post or profile for solicitation (principle 4)")
def text_check(
    body: TextCheckIn, db: DbSession, settings: SettingsDep, actor: Scanner
) -> TextCheckOut:
    return matching.text_check(db, settings, body, actor=actor)


@router.post("/messages", summary="Send conversation messages (a batch) for grooming scoring")
def messages(body: MessagesIn, db: DbSession, settings: SettingsDep, actor: Scanner) -> MessagesOut:
    """Each conversation's window is scored after its messages are stored; a score at or
    over the threshold opens or joins a case. A message id already stored is a duplicate
    (nothing changes), so a batch can be retried."""
    return conversations.ingest(db, settings, body.messages, actor=actor)


@router.get(
    "/conversations/{conversation_id}",
    summary="A conversation's score, indicators, case and window (never the texts)",
)
def conversation_state(
    conversation_id: Annotated[str, Path(min_length=1, max_length=200)],
    db: DbSession,
    _: Annotated[Principal, require(Scope.CASES_READ)],
) -> ConversationStateOut:
    """For reviewers' tools: texts are read on the case's conversation page, where each
    reveal is logged."""
    return conversations.state(db, conversation_id)


@router.post("/contact-check", summary="May one account contact another? (principle 7)")
def contact_check(
    body: ContactCheckIn, db: DbSession, settings: SettingsDep, actor: Scanner
) -> ContactCheckOut:
    try:
        policy = contact.parse_policy(settings.contact_policy)
    except ValueError as exc:
        raise ServiceUnavailable(f"the contact_policy setting is invalid: {exc}") from None
    out = contact.decide(body, policy)
    audit.record(
        db,
        "contact.decided",
        actor=actor,
        subject=f"account:{body.initiator_ref}" if body.initiator_ref else "",
        principles=(7,),
        payload={
            "decision": out.decision.value,
            "rule": out.rule,
            "initiator": out.initiator_class,
            "target": out.target_class,
            "relationship": body.relationship.value,
            "action": body.action.value,
        },
    )
    return out
