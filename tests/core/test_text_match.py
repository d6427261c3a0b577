"""shieldwall.core.text_match: one pass over many entries, spans, hashed terms, guarded
regular expressions, URLs and domains."""

from __future__ import annotations

import time

import pytest

from shieldwall.core.text import term_hash
from shieldwall.core.text_match import (
    EntryKind,
    MatchEntry,
    Severity,
    TermMatcher,
    check_pattern,
)


def entry(
    i: int,
    kind: EntryKind,
    value: str,
    category: str = "csam_seeking",
    severity: Severity = Severity.HIGH,
    word_count: int = 1,
) -> MatchEntry:
    return MatchEntry(i, "L", kind, value, category, severity, "en", word_count)


def test_terms_and_phrases_match_whole_words_with_spans() -> None:
    m = TermMatcher(
        [
            entry(1, EntryKind.TERM, "zorblax"),
            entry(2, EntryKind.PHRASE, "Quux Feed"),
            entry(3, EntryKind.TERM, "teen", severity=Severity.LOW),
        ]
    )
    text = "Find Z.O.R.B.L.A.X and quux   feed, not canteen"
    result = m.match(text)
    spans = {h.entry.id: text[h.start : h.end] for h in result.hits}
    assert spans == {1: "Z.O.R.B.L.A.X", 2: "quux   feed"}
    assert result.worst() is Severity.HIGH


def test_ten_thousand_entries_in_one_automaton() -> None:
    m = TermMatcher(entry(i, EntryKind.TERM, f"word{i}x") for i in range(10_000))
    assert m.size == 10_000
    hits = m.match("a word9999x and word0x and word10000x").hits
    assert sorted(h.entry.id for h in hits) == [0, 9999]


def test_hashed_terms_match_without_the_term_in_the_list() -> None:
    m = TermMatcher(
        [
            entry(1, EntryKind.HASHED, term_hash("zorblax")),
            entry(2, EntryKind.HASHED, term_hash("quux feed"), word_count=2),
        ]
    )
    text = "some QUUX feed and z0rblax"
    hits = sorted(m.match(text).hits, key=lambda h: h.entry.id)
    assert [(h.entry.id, text[h.start : h.end]) for h in hits] == [(1, "z0rblax"), (2, "QUUX feed")]


def test_regex_entries_run_on_normalised_text() -> None:
    m = TermMatcher([entry(1, EntryKind.REGEX, r"\bzorb\w+ (vid|pic)s?\b")])
    assert [h.entry.id for h in m.match("ZORBLAX   P1CS").hits] == [1]


@pytest.mark.parametrize(
    "pattern",
    [
        r"(a+)+$",
        r"(\w*)*x",
        r"(a{1,10}){2,}",
        r"(x)\1",
        r"(?P<n>a)(?P=n)",
        "",
        "a" * 1001,
        "(unclosed",
    ],
)
def test_dangerous_or_broken_patterns_are_refused(pattern: str) -> None:
    with pytest.raises(ValueError, match=r".+"):
        check_pattern(pattern)


def test_a_slow_pattern_that_passes_the_checks_is_time_limited() -> None:
    # overlapping alternation: exponential backtracking without nested quantifiers
    slow = entry(1, EntryKind.REGEX, r"^(a|aa)+$")
    m = TermMatcher([slow, entry(2, EntryKind.TERM, "b")], regex_timeout=0.05)
    started = time.monotonic()
    result = m.match("a" * 60 + " b")
    elapsed = time.monotonic() - started
    assert result.timed_out == [1]
    assert [h.entry.id for h in result.hits] == [2]
    assert elapsed < 5  # bounded, not exponential (a generous bound, not a benchmark)


def test_urls_and_domains() -> None:
    m = TermMatcher(
        [
            entry(1, EntryKind.URL, "bad.example/gallery", category="csam_url"),
            entry(2, EntryKind.DOMAIN, "worse.example", category="csam_url"),
        ]
    )
    text = "x https://WWW.bad.example/gallery/ y cdn.worse[.]example/z"
    ids = sorted(h.entry.id for h in m.match(text).hits)
    assert ids == [1, 2]
    assert m.lookup_url("worse.example")
    assert not m.lookup_url("notworse.example")
    assert m.match(text, urls=False).hits == []


def test_empty_and_symbol_only_texts() -> None:
    m = TermMatcher([entry(1, EntryKind.TERM, "zorblax")])
    assert m.match("").hits == []
    assert m.match("!!! ??? \u200b").hits == []


def test_required_literals_prefilter_regexes_without_changing_results() -> None:
    from shieldwall.core.text_match import required_literal

    assert required_literal(r"\bzorb\w+ (vid|pic)s?\b") == "zorb"
    assert required_literal(r"(?:abc)+def") in {"abc", "def"}
    assert required_literal(r"x{0,3}yyyz") == "yyyz"
    assert required_literal(r"(a|aa)+") is None  # no literal every match must contain
    assert required_literal(r"[a-z]+") is None
    assert required_literal(r"\p{L}+zorb") is None  # regex-only syntax: always run
    m = TermMatcher(
        [
            entry(1, EntryKind.REGEX, r"\bquux (feed|food)\b"),
            entry(2, EntryKind.REGEX, r"\p{L}+ zorb\b"),
        ]
    )
    assert sorted(h.entry.id for h in m.match("QUUX food and big zorb").hits) == [1, 2]
    assert m.match("quu feed").hits == []


def test_terms_in_scripts_without_spaces_match_inside_text() -> None:
    m = TermMatcher([entry(1, EntryKind.TERM, "\u5b50\u4f9b"), entry(2, EntryKind.TERM, "zorb")])
    text = "\u79c1\u306f\u5b50\u4f9b\u304c\u597d\u304d zorbs"  # no spaces around the term
    hits = m.match(text).hits
    assert [(h.entry.id, text[h.start : h.end]) for h in hits] == [(1, "\u5b50\u4f9b")]
