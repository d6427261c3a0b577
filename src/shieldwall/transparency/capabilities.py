"""Processes and systems: which detection methods are active, read from the live
configuration and the capabilities' own services (never typed in by hand).

Each probe returns a :class:`Process`; a capability whose module is not installed is listed
as not in place instead of being left out, so a reader sees the gap.
"""

from __future__ import annotations

import importlib.util
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from shieldwall.config import Settings


@dataclass(slots=True)
class Process:
    id: str
    name: str
    active: bool
    detail: str
    principles: tuple[int, ...]
    #: live counts (not about people, so never suppressed): (id, label, value, breakdown)
    counts: list[tuple[str, str, int, dict[str, int]]] = field(default_factory=list)


def installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def hash_matching(session: Session) -> Process:
    from shieldwall.banks import repository, service

    banks = [b for b in service.describe(session, repository.list_banks(session)) if b.enabled]
    by_type: Counter[str] = Counter()
    for bank in banks:
        if bank.kind == "allow":
            continue
        for signal_type, counts in bank.counts.items():
            by_type[signal_type] += counts.active
    total = sum(by_type.values())
    kinds = ", ".join(f"{t}: {n:,}" for t, n in sorted(by_type.items()) if n)
    detail = (
        f"{_plural(len(banks), 'enabled bank')} holding {_plural(total, 'active hash')}"
        + (f" ({kinds})" if kinds else "")
        + "; allow banks suppress known false positives."
    )
    return Process(
        "hash_matching",
        "Hash matching against known material",
        total > 0,
        detail,
        (1,),
        [("hashes_in_banks", "Active hashes in block and review banks", total, dict(by_type))],
    )


def hash_on_confirm(settings: Settings) -> Process:
    bank = settings.case_confirm_bank.strip()
    return Process(
        "hash_on_confirm",
        "Hashes of newly confirmed material added to a bank",
        bool(bank),
        f"media a reviewer confirms as violating is hashed into bank {bank}"
        if bank
        else "off (case_confirm_bank is empty)",
        (2,),
    )


def classifiers(settings: Settings) -> Process:
    media = [f"{c.name} ({c.kind})" for c in settings.classifiers]
    text = [f"{c.name} ({c.kind})" for c in settings.text_classifiers]
    parts = []
    if media:
        parts.append("media: " + ", ".join(media))
    if text:
        parts.append("text: " + ", ".join(text))
    return Process(
        "classifiers",
        "Classifiers for new material and grooming",
        bool(media or text),
        "; ".join(parts) or "no classifiers configured (classifiers, text_classifiers)",
        (2, 3),
    )


def _term_categories(session: Session) -> Counter[str]:
    from shieldwall.textsignals import repository

    return Counter(str(entry.category) for entry, _name in repository.active_entries(session))


def text_signals(session: Session) -> list[Process]:
    if not installed("shieldwall.textsignals"):
        return [
            Process("search_deterrence", "Search deterrence", False, "not in place", (6,)),
            Process(
                "text_signals", "Grooming and solicitation signals", False, "not in place", (3, 4)
            ),
        ]
    cats = _term_categories(session)
    seeking = cats.get("csam_seeking", 0)
    others = {c: n for c, n in sorted(cats.items()) if c != "csam_seeking"}
    return [
        Process(
            "search_deterrence",
            "Search deterrence with help resources",
            seeking > 0,
            f"{_plural(seeking, 'search term')} in enabled term lists answered with a "
            "deterrence message; autocomplete suggestions filtered"
            if seeking
            else "no csam_seeking terms in an enabled term list",
            (6,),
        ),
        Process(
            "text_signals",
            "Grooming, solicitation and URL signals",
            True,
            "built-in grooming indicators score conversations"
            + (
                "; term lists: " + ", ".join(f"{c}: {n:,}" for c, n in others.items())
                if others
                else ""
            ),
            (3, 4),
            [("terms_in_lists", "Entries in enabled term lists", sum(cats.values()), dict(cats))],
        ),
    ]


def contact_policy(settings: Settings) -> Process:
    rules = len(settings.contact_policy)
    return Process(
        "contact_policy",
        "Age-aware contact checks",
        installed("shieldwall.textsignals"),
        f"{_plural(rules, 'configured rule')}" if rules else "the shipped contact policy",
        (7,),
    )


def intake() -> list[Process]:
    present = installed("shieldwall.intake")
    return [
        Process(
            "user_reporting",
            "User reporting",
            present,
            "users report content, accounts and conversations; reports open cases"
            if present
            else "not in place",
            (8,),
        ),
        Process(
            "survivor_requests",
            "Survivor takedown requests (hashes only)",
            present,
            "survivors send hashes, never images; approved hashes block uploads"
            if present
            else "not in place",
            (8,),
        ),
    ]


def hotline_reporting(settings: Settings) -> Process:
    if not installed("shieldwall.reporting"):
        return Process(
            "hotline_reporting", "Reports to NCMEC and hotlines", False, "not in place", (1, 9)
        )
    from shieldwall.reporting import destinations

    ready = [d["name"] for d in destinations.describe(settings) if not d["missing"]]
    routes = len(settings.reporting_routes)
    return Process(
        "hotline_reporting",
        "Reports to NCMEC and other hotlines",
        bool(ready),
        (f"ready: {', '.join(ready)}" if ready else "no destination fully configured")
        + f"; default {settings.reporting_default_destination}; "
        + f"{_plural(routes, 'routing rule')} by jurisdiction",
        (1, 2, 9),
    )


def exchanges(session: Session) -> Process:
    if not installed("shieldwall.exchanges"):
        return Process("hash_exchanges", "Hash exchanges", False, "not in place", (10,))
    from shieldwall.exchanges import repository

    enabled = [e for e in repository.list_exchanges(session) if e.enabled]
    shared = repository.list_shares(session)
    return Process(
        "hash_exchanges",
        "Hash sharing with industry and hotlines",
        bool(enabled or shared),
        f"{_plural(len(enabled), 'enabled exchange')} received from; "
        f"{_plural(len(shared), 'bank')} shared with partners",
        (10,),
    )


def livestreaming() -> Process:
    return Process(
        "livestream_scanning",
        "Livestream frame sampling",
        False,
        "not in place: this deployment has no livestream capability",
        (5,),
    )


def processes(session: Session, settings: Settings) -> list[Process]:
    out = [hash_matching(session), hash_on_confirm(settings), classifiers(settings)]
    out += text_signals(session)
    out += [contact_policy(settings), *intake(), hotline_reporting(settings)]
    out += [exchanges(session), livestreaming()]
    return out


def as_json(process: Process) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": process.id,
        "name": process.name,
        "active": process.active,
        "detail": process.detail,
        "principles": list(process.principles),
    }
    if process.counts:
        item["metrics"] = [
            {
                "id": mid,
                "label": label,
                "definition": f"{label}, read from the live configuration when the report "
                "was generated (not from the event log; not suppressed: no person is counted).",
                "principles": list(process.principles),
                "unit": "count",
                "value": value,
                "breakdown": [
                    {"key": {"type": k}, "value": v} for k, v in sorted(breakdown.items())
                ],
            }
            for mid, label, value, breakdown in process.counts
        ]
    return item
