"""shieldwall.core.text_match: one pass over many entries, spans, hashed terms, guarded
regular expressions, URLs and domains."""

from __future__ import annotations

import logging
import time
import tracemalloc

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


HUGE_REPEATS = [
    "a{99999999}",
    "a{1001}",
    "a{0,5000}",
    "a{2000,}",
    r"\w{1001}?",
    "(?:a{1000}){1000}",
    "(?:a{100}){101}",
    "(a{100}){100}{100}",
    "((a{10}){10}){101}",
    "(?:(?:a{100}){10}|b){20}",
    "(?:a{100}){100}b{100}",
    "a{1000}" * 11,
    "(?x) a{9999 9999}",
    "(?x)a{99#\n999}",
    "(?i)(?:a{1000}){11}",
    r"\p{L}{50000}",
    "(?:ab){e<=1}{5000}",
    "(?=a{5000})",
    "(" * 400 + ")" * 400,
]


@pytest.mark.parametrize("pattern", HUGE_REPEATS)
def test_huge_repeats_are_refused_before_compiling(pattern: str) -> None:
    # regex unrolls repeats when it compiles: a{99999999} alone took ~23 GB
    tracemalloc.start()
    started = time.monotonic()
    try:
        with pytest.raises(ValueError, match=r"repeat|invalid|nested"):
            check_pattern(pattern)
        elapsed = time.monotonic() - started
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert elapsed < 1
    assert peak < 5_000_000


@pytest.mark.parametrize(
    "pattern",
    [
        r"\b(?:how old|what age) (?:are|r) (?:you|u)\b",
        r"\b(?:send|show) (?:me )?(?:a )?(?:pic|photo|vid)s?\b",
        r"\bdon'?t tell (?:your|ur) (?:mom|mum|dad|parents)\b",
        r"\b(?:snap|kik|telegram|discord)\b.{0,40}\b(?:add|dm|message)\b",
        r"\b1[0-7] ?(?:yo|y/o|years? old)\b",
        r"\bzorb\w{0,20} (?:vid|pic)s?\b",
        r"(?:\d{3}[- ]?){2}\d{4}",
        r"\p{L}{3,30}",
        "a{1000}",
        "(?:a{100}){100}",
        "(?:zorblax){e<=1}",
    ],
)
def test_ordinary_patterns_still_pass(pattern: str) -> None:
    assert check_pattern(pattern).pattern == pattern


def test_a_stored_pattern_over_the_limits_is_skipped_by_id(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # rows stored before the check existed: the matcher skips them instead of compiling them
    caplog.set_level(logging.WARNING, logger="shieldwall")
    started = time.monotonic()
    m = TermMatcher(
        [
            entry(7, EntryKind.REGEX, "a{99999999}"),
            entry(8, EntryKind.REGEX, "(?:zorb{1000}){1000}"),
            entry(9, EntryKind.REGEX, r"\bzorb\w+\b"),
        ]
    )
    assert time.monotonic() - started < 1
    assert [h.entry.id for h in m.match("ZORBLAX").hits] == [9]
    skipped = [r for r in caplog.records if r.getMessage() == "text.pattern_skipped"]
    assert [r.__dict__["entry_id"] for r in skipped] == [7, 8]
    assert "zorb" not in caplog.text
    assert "99999999" not in caplog.text


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


def test_without_the_parser_it_expects_repeats_are_counted_from_the_text(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the repeat check reads regex's private parser: a release that changes it must not let
    # huge repeats through, nor stop ordinary patterns (and the matcher) from working
    monkeypatch.delattr("regex._regex_core.Source")
    assert check_pattern(r"\bzorb\w+\b").search("a zorblax") is not None
    assert check_pattern(r"\d{3}-\d{4}").search("555-1234") is not None
    for huge in ("a{99999999}", "(?:a{1000}){1000}", "(?x)a{9999 9999}", "(a{100}){100}{100}"):
        with pytest.raises(ValueError, match="repeat"):
            check_pattern(huge)
    m = TermMatcher([entry(1, EntryKind.REGEX, r"\bzorb\w+\b"), entry(2, EntryKind.TERM, "b")])
    assert sorted(h.entry.id for h in m.match("zorblax b").hits) == [1, 2]
