"""Conversations: a bounded window per conversation, grooming indicators, risk → case
(principles 3 and 4).

:func:`ingest` takes a batch of messages. For each message it finds the grooming indicators
(:mod:`shieldwall.textsignals.rules`) and term-list hits, seals the text (core.sealing, the
conversation and message ids as associated data) and stores it with the hits' ids and
spans. The conversation keeps its newest ``conversation_window_messages`` messages; older
ones, and any older than ``conversation_retention_hours``, are deleted unless a case
preserves them. The window is then scored; a score at or over the threshold opens or joins
the conversation's case (``CaseSource.GROOMING``, principle 3) with the indicators, their
weights and the ids of the messages they were found in, and every message in the window
from then on is preserved for the reviewer (sealed) until the case's own retention
removes it. A message with a listed URL also joins the case (``url_match``).

A case decided *not violating* releases the conversation's messages back to the normal
retention and stops counting what they showed (``conversation.released``); a violating
decision keeps them.

Events: ``conversation.flagged`` when a window's indicators change a case (ids and scores
only); the case itself records ``case.opened``/``case.signal_added``;
``conversation.messages_purged`` for retention deletes.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shieldwall.audit import service as audit
from shieldwall.cases import service as cases
from shieldwall.cases.models import Case
from shieldwall.cases.schemas import CaseSource, Outcome, SignalIn, Subject
from shieldwall.config import Settings
from shieldwall.core.access import Principal
from shieldwall.core.errors import NotFound
from shieldwall.core.sealing import Keyring, SealError, seal, unseal
from shieldwall.core.text import normalise, sanitise
from shieldwall.core.text_match import EntryKind, TermHit
from shieldwall.db.base import as_utc, utcnow
from shieldwall.integrations.classifiers import ClassifierInput, ClassifierSet
from shieldwall.textsignals import repository
from shieldwall.textsignals.contact import age_class
from shieldwall.textsignals.matching import matcher_for
from shieldwall.textsignals.models import Conversation, ConversationMessage
from shieldwall.textsignals.rules import (
    IndicatorHit,
    RuleSet,
    ScoredWindow,
    WindowMessage,
    load_rules,
)
from shieldwall.textsignals.schemas import (
    AgeInfo,
    Category,
    ConversationOut,
    ConversationStateOut,
    IndicatorOut,
    MessageIn,
    MessagesOut,
    WindowMessageOut,
)

#: term-list categories that count in a conversation's score
SCORED_CATEGORIES = frozenset(
    {
        Category.GROOMING_INDICATOR.value,
        Category.SOLICITATION.value,
        Category.SEXTORTION.value,
        Category.ADVERTISING.value,
        Category.CSAM_SEEKING.value,
    }
)


@lru_cache(maxsize=4)
def _rules(path: Path | None, timeout_ms: int) -> RuleSet:
    return load_rules(path, regex_timeout=timeout_ms / 1000)


def rules_for(settings: Settings) -> RuleSet:
    return _rules(settings.grooming_rules_file, settings.text_regex_timeout_ms)


_classifier_sets: dict[int, tuple[Settings, ClassifierSet]] = {}


def text_classifiers(settings: Settings) -> ClassifierSet | None:
    """The configured text classifier plug-ins (the image classifiers' protocol and
    adapters, fed the message as UTF-8 text/plain), built once per settings object."""
    if not settings.text_classifiers:
        return None
    cached = _classifier_sets.get(id(settings))
    if cached is not None and cached[0] is settings:
        return cached[1]
    built = ClassifierSet.from_settings(
        settings.model_copy(update={"classifiers": settings.text_classifiers})
    )
    _classifier_sets[id(settings)] = (settings, built)
    return built


def _classify(classifiers: ClassifierSet | None, text: str) -> list[dict[str, Any]]:
    if classifiers is None or not text:
        return []
    outcome = classifiers.classify(
        ClassifierInput(data=text.encode("utf-8"), media_type="text/plain; charset=utf-8")
    )
    return [
        {"classifier": s.classifier, "label": s.label, "score": round(s.score, 4)}
        for s in outcome.over_threshold
    ]


def threshold_of(settings: Settings, rules: RuleSet) -> float:
    return settings.grooming_threshold or rules.threshold


def _aad(conversation_id: int, message_ref: str) -> bytes:
    return f"conversation_message:{conversation_id}:{message_ref}".encode()


def _conversation(session: Session, ref: str) -> Conversation:
    found = repository.get_conversation(session, ref, lock=True)
    if found is not None:
        return found
    conversation = Conversation(ref=ref, participants={}, indicators=[], score=0.0)
    try:
        with session.begin_nested():
            session.add(conversation)
            session.flush()
    except IntegrityError:
        found = repository.get_conversation(session, ref, lock=True)
        if found is None:
            raise
        return found
    return conversation


def _remember_age(conversation: Conversation, who: str, info: AgeInfo | None) -> None:
    if info is None:
        return
    participants = dict(conversation.participants)
    participants[who] = info.model_dump(mode="json")
    conversation.participants = participants


def _classes(conversation: Conversation) -> dict[str, str]:
    out = {}
    for who, raw in conversation.participants.items():
        try:
            out[who] = age_class(AgeInfo.model_validate(raw))
        except ValueError:
            out[who] = "unknown"
    return out


def _list_hits(hits: Sequence[TermHit]) -> list[dict[str, Any]]:
    return [
        {
            "list_category": h.entry.category,
            "severity": h.entry.severity.value,
            "entry_id": h.entry.id,
            "start": h.start,
            "end": h.end,
        }
        for h in hits
        if h.entry.category in SCORED_CATEGORIES
        and h.entry.kind not in (EntryKind.URL, EntryKind.DOMAIN)
    ]


def _window_messages(rows: Sequence[ConversationMessage]) -> list[WindowMessage]:
    out = []
    for row in rows:
        hits = [
            IndicatorHit(str(i["indicator"]), int(i["start"]), int(i["end"]))  # type: ignore[call-overload]
            for i in row.indicators
            if "indicator" in i and not i.get("reviewed")
        ]
        lists = [
            (str(i["list_category"]), str(i["severity"]))
            for i in row.indicators
            if "list_category" in i and not i.get("reviewed")
        ]
        classified = [
            (str(i["classifier"]), str(i["label"]))
            for i in row.indicators
            if "classifier" in i and not i.get("reviewed")
        ]
        out.append(
            WindowMessage(
                ref=row.message_ref,
                sender=row.sender_ref,
                hits=hits,
                list_hits=lists,
                classifier_hits=classified,
            )
        )
    return out


def _trim(
    session: Session, settings: Settings, conversation: Conversation
) -> list[ConversationMessage]:
    """Apply the window bound and retention; the remaining window, oldest first."""
    rows = list(repository.window(session, conversation.id))
    limit = settings.conversation_window_messages
    cutoff = utcnow() - timedelta(hours=settings.conversation_retention_hours)
    keep: list[ConversationMessage] = []
    drop: list[int] = []
    for i, row in enumerate(rows):
        too_old = as_utc(row.received_at) is not None and as_utc(row.received_at) < cutoff  # type: ignore[operator]
        beyond = i < len(rows) - limit
        if (too_old or beyond) and not row.preserved:
            drop.append(row.id)
        elif not beyond:
            keep.append(row)
    if drop:
        for row in rows:
            if row.id in set(drop):
                session.expunge(row)
        repository.delete_messages(session, drop)
    return keep


def _score(
    rules: RuleSet, conversation: Conversation, window: Sequence[ConversationMessage]
) -> ScoredWindow:
    classes = _classes(conversation)
    adults = {who for who, c in classes.items() if c == "adult"}
    minors = {who for who, c in classes.items() if c == "minor"}
    pair = any(
        row.sender_ref in adults and any(r in minors for r in row.recipient_refs) for row in window
    )
    return rules.score(_window_messages(window), adults=adults, minors=minors, pair_known=pair)


def _out(
    conversation: Conversation, scored: ScoredWindow, rules: RuleSet, window_size: int
) -> ConversationOut:
    return ConversationOut(
        conversation_id=conversation.ref,
        score=scored.score,
        threshold=scored.threshold,
        over_threshold=scored.over_threshold,
        indicators=[
            IndicatorOut(indicator=i, weight=w, message_id=m, start=s, end=e)
            for i, w, m, s, e in scored.indicators
        ],
        rules_version=rules.version,
        case_id=conversation.case_id,
        messages_in_window=window_size,
    )


def ingest(
    session: Session, settings: Settings, messages: Sequence[MessageIn], *, actor: Principal | str
) -> MessagesOut:
    rules = rules_for(settings)
    threshold = threshold_of(settings, rules)
    matcher = matcher_for(session, settings)
    keyring = settings.resolved_keyring()
    classifiers = text_classifiers(settings)
    grouped: OrderedDict[str, list[MessageIn]] = OrderedDict()
    for m in messages:
        grouped.setdefault(m.conversation_id, []).append(m)
    accepted = duplicates = 0
    results: list[ConversationOut] = []
    for ref, items in grouped.items():
        conversation = _conversation(session, ref)
        url_hits: list[TermHit] = []
        blocked: list[str] = []
        seen_refs: set[str] = set()
        for m in items:
            if m.message_id in seen_refs or repository.message_exists(
                session, conversation.id, m.message_id
            ):
                duplicates += 1
                continue
            seen_refs.add(m.message_id)
            _remember_age(conversation, m.sender, m.sender_age)
            for who, info in m.recipient_ages.items():
                _remember_age(conversation, who[:200], info)
            accepted += 1
            before = len(url_hits)
            _store(session, conversation, m, rules, matcher, keyring, url_hits, classifiers)
            if len(url_hits) > before:
                blocked.append(m.message_id)
        session.flush()
        window = _trim(session, settings, conversation)
        scored = _score(rules, conversation, window)
        scored.threshold = threshold
        conversation.score = scored.score
        conversation.indicators = scored.ids
        conversation.rules_version = rules.version
        if scored.over_threshold or url_hits:
            _to_case(session, settings, conversation, window, scored, rules, url_hits, actor)
        out = _out(conversation, scored, rules, len(window))
        out.blocked_messages = blocked
        results.append(out)
    session.flush()
    return MessagesOut(accepted=accepted, duplicates=duplicates, conversations=results)


def _store(
    session: Session,
    conversation: Conversation,
    m: MessageIn,
    rules: RuleSet,
    matcher: Any,
    keyring: Keyring,
    url_hits: list[TermHit],
    classifiers: ClassifierSet | None = None,
) -> None:
    text = sanitise(m.text)
    norm = normalise(text)
    found = rules.detect(text, norm=norm)
    result = matcher.match(text, norm=norm)
    url_hits.extend(h for h in result.hits if h.entry.kind in (EntryKind.URL, EntryKind.DOMAIN))
    indicators: list[dict[str, Any]] = [
        {"indicator": h.indicator, "start": h.start, "end": h.end} for h in found
    ]
    indicators.extend(_list_hits(result.hits))
    indicators.extend(_classify(classifiers, text))
    session.add(
        ConversationMessage(
            conversation_id=conversation.id,
            message_ref=m.message_id,
            sender_ref=m.sender,
            recipient_refs=list(dict.fromkeys(m.recipients)),
            sent_at=as_utc(m.sent_at),
            sealed_text=seal(
                text.encode("utf-8"), keyring, aad=_aad(conversation.id, m.message_id)
            ),
            indicators=indicators,
            preserved=conversation.case_id is not None,
        )
    )


def _to_case(
    session: Session,
    settings: Settings,
    conversation: Conversation,
    window: Sequence[ConversationMessage],
    scored: ScoredWindow,
    rules: RuleSet,
    url_hits: Sequence[TermHit],
    actor: Principal | str,
) -> None:
    case = None
    if scored.over_threshold:
        ids = sorted(scored.ids)
        digest = hashlib.sha256(",".join(ids).encode()).hexdigest()[:16]
        case = cases.attach_signal(
            session,
            settings,
            subject=Subject(kind="conversation", ref=conversation.ref),
            signal=SignalIn(
                source=CaseSource.GROOMING,
                principles=(3,),
                summary={
                    "score": scored.score,
                    "threshold": scored.threshold,
                    "rules_version": rules.version,
                    "indicators": [
                        {"id": i, "weight": w, "message_id": mid}
                        for i, w, mid, _s, _e in scored.indicators
                    ][:30],
                    "conversation_id": conversation.id,
                },
                labels=ids[:50],
                score=min(1.0, round(scored.score / (2 * scored.threshold), 4)),
                ref=f"grooming:{conversation.id}:{digest}",
            ),
            actor=actor,
        )
    if url_hits:
        case = cases.attach_signal(
            session,
            settings,
            subject=Subject(kind="conversation", ref=conversation.ref),
            signal=SignalIn(
                source=CaseSource.URL_MATCH,
                principles=(1, 4),
                summary={
                    "entry_ids": sorted({h.entry.id for h in url_hits})[:50],
                    "conversation_id": conversation.id,
                },
                labels=sorted({h.entry.category for h in url_hits}),
            ),
            actor=actor,
        )
    if case is None:
        return
    first = conversation.case_id != case.id
    conversation.case_id = case.id
    for row in window:
        row.preserved = True
    if first or scored.over_threshold:
        audit.record(
            session,
            "conversation.flagged",
            actor=actor,
            subject=f"case:{case.id}",
            principles=(3,) if scored.over_threshold else (1, 4),
            payload={
                "conversation_id": conversation.id,
                "score": scored.score,
                "indicators": scored.ids[:30],
                "url_matches": len(url_hits),
                "rules_version": rules.version,
            },
        )


def release_on_decision(session: Session, settings: Settings, case: Case, actor: Principal) -> None:
    """A conversation's case decided *not violating*: its messages stop being preserved and
    return to the normal retention, what they showed no longer counts towards the score (a
    new case needs new signals), and new messages are no longer preserved for it. A
    violating decision keeps them (the evidence module preserves what it needs)."""
    if case.outcome != Outcome.NOT_VIOLATING.value or case.subject_kind != "conversation":
        return
    conversation = repository.get_conversation(session, case.subject_ref, lock=True)
    if conversation is None or conversation.case_id != case.id:
        return
    released = 0
    for row in repository.window(session, conversation.id):
        # reviewed: what these messages showed no longer counts towards a new case
        row.indicators = [{**i, "reviewed": True} for i in row.indicators]
        if row.preserved:
            row.preserved = False
            released += 1
    conversation.case_id = None
    session.flush()
    audit.record(
        session,
        "conversation.released",
        actor=actor,
        subject=f"case:{case.id}",
        principles=(3,),
        payload={"conversation_id": conversation.id, "messages": released},
    )


for _source in (CaseSource.GROOMING, CaseSource.URL_MATCH):
    cases.register_decision_hook(_source, release_on_decision)


def purge_expired(session: Session, settings: Settings, now: datetime | None = None) -> int:
    """Delete message texts older than the retention that no case preserves."""
    cutoff = (now or utcnow()) - timedelta(hours=settings.conversation_retention_hours)
    total = 0
    while True:
        ids = repository.expired_message_ids(session, cutoff)
        if not ids:
            break
        total += repository.delete_messages(session, ids)
    if total:
        audit.record(
            session,
            "conversation.messages_purged",
            actor="system:retention",
            principles=(3,),
            payload={"deleted": total},
        )
    return total


def state(session: Session, ref: str) -> ConversationStateOut:
    """A conversation's score, indicators, case and window, without any text."""
    conversation = repository.get_conversation(session, ref)
    if conversation is None:
        raise NotFound(f"no conversation {ref[:200]!r} is kept", conversation_id=ref[:200])
    return ConversationStateOut(
        conversation_id=conversation.ref,
        score=conversation.score,
        indicators=list(conversation.indicators),
        rules_version=conversation.rules_version,
        case_id=conversation.case_id,
        participants=_classes(conversation),
        messages=[
            WindowMessageOut(
                message_id=row.message_ref,
                sender=row.sender_ref,
                recipients=list(row.recipient_refs),
                sent_at=row.sent_at,
                indicators=list(row.indicators),
                preserved=row.preserved,
            )
            for row in repository.window(session, conversation.id)
        ],
    )


def window_for_case(session: Session, settings: Settings, case_id: int) -> list[dict[str, Any]]:
    """The conversation window of a case, decrypted, oldest first, for the reviewer: message
    id, sender, recipients, time, text (or an error note), and the indicator spans."""
    conversation = repository.conversation_for_case(session, case_id)
    if conversation is None:
        return []
    keyring = settings.resolved_keyring()
    out = []
    for row in repository.window(session, conversation.id):
        try:
            text = unseal(
                row.sealed_text, keyring, aad=_aad(conversation.id, row.message_ref)
            ).decode("utf-8")
            error = None
        except SealError as exc:
            text, error = "", str(exc)
        out.append(
            {
                "message_id": row.message_ref,
                "sender": row.sender_ref,
                "recipients": row.recipient_refs,
                "sent_at": row.sent_at,
                "text": text,
                "error": error,
                "indicators": row.indicators,
                "preserved": row.preserved,
            }
        )
    return out
