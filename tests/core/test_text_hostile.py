"""Hostile texts: every step of text handling stays linear on the largest texts accepted.

Each case once took seconds to minutes (a URL regex over a long ``a.a.a...`` run was
quadratic). The bound below is generous — about a hundred times the time these take — so
it fails only for super-linear blow-ups, not for a slow machine.
"""

from __future__ import annotations

import time

import pytest

from shieldwall.core.text import normalise, normalise_with_offsets, term_hash
from shieldwall.core.text_match import EntryKind, MatchEntry, Severity, TermMatcher
from shieldwall.core.text_urls import extract_urls
from shieldwall.textsignals.rules import default_rules
from shieldwall.textsignals.schemas import MAX_TEXT_CHARS

HOSTILE = {
    "letters": "a" * MAX_TEXT_CHARS,
    "dotted": "a." * (MAX_TEXT_CHARS // 2),
    "hyphens": "a-" * (MAX_TEXT_CHARS // 2),
    "long labels": ("a" + "-" * 60 + "a.") * 300,
    "spaced": "a " * (MAX_TEXT_CHARS // 2),
    "mixed separators": "a. " * (MAX_TEXT_CHARS // 3),
    "digits": "1." * (MAX_TEXT_CHARS // 2),
    "symbols": "@$" * (MAX_TEXT_CHARS // 2),
    "leetspeak": "a1" * (MAX_TEXT_CHARS // 2),
    "dot words": "x dot " * (MAX_TEXT_CHARS // 6),
    "brackets": "[.]" * (MAX_TEXT_CHARS // 3),
    "whitespace then bracket": " " * (MAX_TEXT_CHARS - 1) + "(",
    "zero width": "\u200b" * MAX_TEXT_CHARS,
    "combining marks": "a" + "\u0301" * (MAX_TEXT_CHARS - 1),
    "look-alikes": "\u0430" * MAX_TEXT_CHARS,
    "astral": "\U0001f600" * (MAX_TEXT_CHARS // 2),
    "keywords": "how old " * (MAX_TEXT_CHARS // 8),
    "one long url": "http://" + "a." * (MAX_TEXT_CHARS // 2 - 10) + "com/",
    "many urls": "x.example/a " * (MAX_TEXT_CHARS // 12),
    "lone surrogates": "\ud800" * MAX_TEXT_CHARS,
}
BOUND_SECONDS = 3.0


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_text_is_handled_in_linear_time(name: str) -> None:
    text = HOSTILE[name][:MAX_TEXT_CHARS]
    matcher = TermMatcher(
        [
            MatchEntry(1, "l", EntryKind.TERM, "zorb", "csam_seeking", Severity.HIGH),
            MatchEntry(
                2, "l", EntryKind.HASHED, term_hash("a a"), "csam_seeking", Severity.HIGH, "", 2
            ),
            MatchEntry(3, "l", EntryKind.REGEX, r"\bzorb\w* a\b", "csam_seeking", Severity.HIGH),
            MatchEntry(4, "l", EntryKind.DOMAIN, "x.example", "csam_url", Severity.HIGH),
        ]
    )
    rules = default_rules()
    started = time.monotonic()
    norm = normalise(text)
    assert normalise_with_offsets(text).text == norm
    urls = extract_urls(text)
    assert len(urls) <= 100
    matcher.match(text, norm=norm)
    rules.detect(text, norm=norm)
    assert time.monotonic() - started < BOUND_SECONDS
