"""Checks against the term lists: search queries, suggestions, URLs, posts and profiles.

The compiled :class:`~shieldwall.core.text_match.TermMatcher` is kept per process and
database; every check asks the database for the lists' version (one small query) and
rebuilds the matcher when it moved, so a change made through any server is seen by all on
their next check.

Events (ids, categories and counts only; never the query or text): ``search.warned`` and
``search.blocked`` (principle 6), ``search.suggestions_removed`` (6), ``url.matched`` (1, 4),
``text.matched`` (4).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from sqlalchemy.orm import Session

from shieldwall.audit import service as audit
from shieldwall.cases import service as cases
from shieldwall.cases.schemas import CaseSource, SignalIn, Subject
from shieldwall.config import Settings
from shieldwall.core.access import Principal
from shieldwall.core.errors import InvalidInput
from shieldwall.core.text import sanitise
from shieldwall.core.text_match import (
    EntryKind,
    MatchEntry,
    MatchResult,
    Severity,
    TermHit,
    TermMatcher,
)
from shieldwall.core.text_urls import MAX_URL_LENGTH, extract_urls, normalise_url
from shieldwall.textsignals import deterrence, repository
from shieldwall.textsignals.schemas import (
    Category,
    Decision,
    MatchOut,
    SearchCheckIn,
    SearchCheckOut,
    SuggestionsIn,
    SuggestionsOut,
    TextCheckIn,
    TextCheckOut,
    UrlCheckIn,
    UrlCheckOut,
    UrlMatchOut,
)

SEARCH_CATEGORIES = frozenset({Category.CSAM_SEEKING.value})
POST_CATEGORIES = frozenset(
    {Category.SOLICITATION.value, Category.ADVERTISING.value, Category.SEXTORTION.value}
)
URL_CATEGORIES = frozenset({Category.CSAM_URL.value})

_lock = threading.Lock()
_cache: dict[tuple[str, float], tuple[tuple[int, int], TermMatcher]] = {}


def matcher_for(session: Session, settings: Settings) -> TermMatcher:
    """The compiled matcher of every enabled list, rebuilt when any list changed."""
    bind = session.get_bind()
    key = (str(bind.engine.url), settings.text_regex_timeout_ms / 1000)
    version = repository.lists_version(session)
    cached = _cache.get(key)
    if cached is not None and cached[0] == version:
        return cached[1]
    with _lock:
        cached = _cache.get(key)
        if cached is not None and cached[0] == version:
            return cached[1]
        matcher = build_matcher(session, regex_timeout=key[1])
        _cache[key] = (version, matcher)
        return matcher


def build_matcher(session: Session, *, regex_timeout: float = 0.05) -> TermMatcher:
    return TermMatcher(
        (
            MatchEntry(
                id=e.id,
                list_name=name,
                kind=EntryKind(e.kind),
                value=e.value,
                category=e.category,
                severity=Severity(e.severity),
                language=e.language,
                word_count=e.word_count,
            )
            for e, name in repository.active_entries(session)
        ),
        regex_timeout=regex_timeout,
    )


def match_out(hits: Sequence[TermHit]) -> list[MatchOut]:
    return [
        MatchOut(
            entry_id=h.entry.id,
            list=h.entry.list_name,
            kind=h.entry.kind,
            category=h.entry.category,
            severity=h.entry.severity,
            start=h.start,
            end=h.end,
        )
        for h in hits
    ]


def _payload(hits: Sequence[TermHit], **extra: object) -> dict[str, object]:
    return {
        "entry_ids": sorted({h.entry.id for h in hits})[:50],
        "categories": sorted({h.entry.category for h in hits}),
        **extra,
    }


def _locale(value: str) -> str:
    return value.strip().lower()[:35]


# ---- search (principle 6) -------------------------------------------------------------------


def search_decision(result: MatchResult, settings: Settings) -> Decision:
    worst = result.worst(SEARCH_CATEGORIES)
    if worst is None:
        return Decision.ALLOW
    return (
        Decision.BLOCK
        if worst.rank >= Severity(settings.search_block_severity).rank
        else Decision.WARN
    )


def search_check(
    session: Session, settings: Settings, body: SearchCheckIn, *, actor: Principal | str
) -> SearchCheckOut:
    result = matcher_for(session, settings).match(sanitise(body.query), urls=False)
    decision = search_decision(result, settings)
    hits = [h for h in result.hits if h.entry.category in SEARCH_CATEGORIES]
    if decision is Decision.ALLOW:
        return SearchCheckOut(decision=decision, matches=[])
    message = deterrence.message_for(
        body.locale,
        folder=settings.deterrence_messages_dir,
        default=settings.deterrence_default_locale,
    )
    audit.record(
        session,
        f"search.{'blocked' if decision is Decision.BLOCK else 'warned'}",
        actor=actor,
        subject=f"account:{body.account_ref}" if body.account_ref else "",
        principles=(6,),
        payload=_payload(hits, locale=message.locale),
    )
    return SearchCheckOut(decision=decision, message=message, matches=match_out(hits))


def filter_suggestions(
    session: Session, settings: Settings, body: SuggestionsIn, *, actor: Principal | str
) -> SuggestionsOut:
    matcher = matcher_for(session, settings)
    kept: list[str] = []
    removed: list[int] = []
    removed_hits: list[TermHit] = []
    for i, suggestion in enumerate(body.suggestions):
        result = matcher.match(sanitise(suggestion), urls=False)
        if result.worst(SEARCH_CATEGORIES) is not None:
            removed.append(i)
            removed_hits.extend(h for h in result.hits if h.entry.category in SEARCH_CATEGORIES)
        else:
            kept.append(suggestion)
    if removed:
        audit.record(
            session,
            "search.suggestions_removed",
            actor=actor,
            principles=(6,),
            payload=_payload(removed_hits, removed=len(removed), offered=len(body.suggestions)),
        )
    return SuggestionsOut(suggestions=kept, removed=removed)


# ---- URLs (principles 1 and 4) ----------------------------------------------------------------


def url_check(
    session: Session, settings: Settings, body: UrlCheckIn, *, actor: Principal | str
) -> UrlCheckOut:
    matcher = matcher_for(session, settings)
    if body.url is not None:
        try:
            candidates = [(body.url.strip(), normalise_url(body.url))]
        except ValueError as exc:
            raise InvalidInput(f"url: {exc}", field="url") from None
    else:
        candidates = extract_urls(sanitise(body.text or ""))
    urls: list[UrlMatchOut] = []
    all_hits: list[TermHit] = []
    for raw, key in candidates:
        hits = matcher.lookup_url(key)
        if hits:
            all_hits.extend(hits)
            urls.append(UrlMatchOut(url=raw[:MAX_URL_LENGTH], key=key, matches=match_out(hits)))
    if not all_hits:
        return UrlCheckOut(decision=Decision.ALLOW, urls=[])
    case_id = None
    if body.content_ref or body.account_ref:
        subject = (
            Subject(kind="content", ref=body.content_ref, account_ref=body.account_ref)
            if body.content_ref
            else Subject(kind="account", ref=str(body.account_ref))
        )
        case = cases.attach_signal(
            session,
            settings,
            subject=subject,
            signal=SignalIn(
                source=CaseSource.URL_MATCH,
                principles=(1, 4),
                summary=_payload(all_hits, urls=len(urls)),
                labels=sorted({h.entry.category for h in all_hits}),
            ),
            actor=actor,
        )
        case_id = case.id
    audit.record(
        session,
        "url.matched",
        actor=actor,
        subject=f"case:{case_id}" if case_id else "",
        principles=(1, 4),
        payload=_payload(all_hits, urls=len(urls)),
    )
    return UrlCheckOut(decision=Decision.BLOCK, urls=urls, case_id=case_id)


# ---- posts and profiles (principle 4) ----------------------------------------------------------


def text_check(
    session: Session, settings: Settings, body: TextCheckIn, *, actor: Principal | str
) -> TextCheckOut:
    result = matcher_for(session, settings).match(sanitise(body.text))
    relevant = [
        h
        for h in result.hits
        if h.entry.category in POST_CATEGORIES | URL_CATEGORIES | SEARCH_CATEGORIES
    ]
    if not relevant:
        return TextCheckOut(decision=Decision.ALLOW, matches=[])
    floor = Severity(settings.text_case_min_severity).rank
    serious = [
        h
        for h in relevant
        if h.entry.severity.rank >= floor or h.entry.kind in (EntryKind.URL, EntryKind.DOMAIN)
    ]
    decision = Decision.BLOCK if serious else Decision.WARN
    case_id = None
    if serious and (body.content_ref or body.account_ref):
        subject = (
            Subject(kind="content", ref=body.content_ref, account_ref=body.account_ref)
            if body.content_ref
            else Subject(kind="account", ref=str(body.account_ref))
        )
        url_hit = any(h.entry.kind in (EntryKind.URL, EntryKind.DOMAIN) for h in serious)
        case = cases.attach_signal(
            session,
            settings,
            subject=subject,
            signal=SignalIn(
                source=CaseSource.URL_MATCH if url_hit else CaseSource.SOLICITATION,
                principles=(1, 4) if url_hit else (4,),
                summary=_payload(serious, kind=body.kind.value),
                labels=sorted({h.entry.category for h in serious}),
            ),
            actor=actor,
        )
        case_id = case.id
    audit.record(
        session,
        "text.matched",
        actor=actor,
        subject=f"case:{case_id}" if case_id else "",
        principles=(4,),
        payload=_payload(relevant, kind=body.kind.value, decision=decision.value),
    )
    return TextCheckOut(decision=decision, matches=match_out(relevant), case_id=case_id)
