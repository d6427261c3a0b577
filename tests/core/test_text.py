# ruff: noqa: RUF001, RUF003 - look-alike characters are what these tests are about
"""shieldwall.core.text: each normalisation step, their order, offsets and hashing."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shieldwall.core import text as t

# ---- each step -----------------------------------------------------------------------------


def test_strip_invisible_drops_format_characters_and_spaces_controls() -> None:
    assert t.strip_invisible("a\u200bb\u200dc\u00add\u202ee\ufeff") == "abcde"
    assert t.strip_invisible("a\x00b\x07c") == "a b c"
    assert t.strip_invisible("x\ue000y") == "xy"  # private use


def test_nfkc_makes_compatibility_forms_plain() -> None:
    assert t.nfkc("ｆｕｌｌ") == "full"
    assert t.nfkc("ﬁ") == "fi"
    assert t.nfkc("𝐁𝐨𝐥𝐝") == "Bold"
    assert t.nfkc("①") == "1"


def test_fold_case_is_unicode_case_folding() -> None:
    assert t.fold_case("Straße ÉCOLE") == "strasse école"


def test_strip_marks_removes_accents_and_stacked_marks() -> None:
    assert t.strip_marks("âge école") == "age ecole"
    assert t.strip_marks("z\u0301\u0302\u0303\u0304a") == "za"


def test_fold_confusables_maps_lookalikes_onto_latin_letters() -> None:
    assert t.fold_confusables("\u0455\u0435\u0441r\u0435t") == "secret"  # Cyrillic s e c e
    assert t.fold_confusables("\u03bf\u03b1") == "oa"  # Greek omicron alpha
    assert t.fold_confusables("plain ascii 0") == "plain ascii 0"  # digits are left alone


def test_join_spaced_undoes_spaced_and_punctuated_words() -> None:
    assert t.join_spaced("a w.o.r.d here") == "a word here"
    assert t.join_spaced("w o r d") == "word"
    assert t.join_spaced("w-o-r-d and w*o*r*d") == "word and word"
    assert t.join_spaced("w . o . r . d") == "word"
    assert t.join_spaced("w.o r.d") == "w.o r.d"  # mixed separators: not one spaced word
    assert t.join_spaced("p 1 c s") == "p1cs"
    # two characters are not enough; numbers alone are not joined
    assert t.join_spaced("a b") == "a b"
    assert t.join_spaced("call 0 6 1 2") == "call 0 6 1 2"


def test_fold_leetspeak_only_inside_words_starting_with_a_letter() -> None:
    assert t.fold_leetspeak("s3cr3t p1c5 h0t") == "secret pics hot"
    assert t.fold_leetspeak("p@ss m$g") == "pass msg"
    assert t.fold_leetspeak("13yo 4ever 2024") == "13yo 4ever 2024"  # ages and numbers survive
    assert t.fold_leetspeak("wow!! ok|") == "wow!! ok|"  # trailing symbols are punctuation


def test_collapse_keeps_letters_digits_and_single_spaces() -> None:
    assert t.collapse("  hello,   world!!\n") == "hello world"
    assert t.collapse("t'as   quel_age") == "t as quel age"


# ---- the pipeline --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("Hello   WORLD!", "hello world"),
        ("ｈｅｌｌｏ", "hello"),
        ("he\u200bllo", "hello"),
        ("р0rn", "porn"),  # Cyrillic р then leetspeak 0
        ("s.3.x", "sex"),  # joined first, then leetspeak
        ("I am 13yo", "i am 13yo"),
        ("T'as quel âge ?", "t as quel age"),
        ("a\u0301\u0302\u0303b", "ab"),
        ("", ""),
        ("\u200b\u200b", ""),
    ],
)
def test_normalise(given: str, expected: str) -> None:
    assert t.normalise(given) == expected


def test_order_matters_spaced_leetspeak_is_joined_before_folding() -> None:
    # if leetspeak ran first, "3" (a word of its own) would stay a digit
    assert t.normalise("s 3 c r 3 t") == "secret"


def test_offsets_point_into_the_input() -> None:
    source = "Say: S\u200b E C R E T!"
    mapped = t.normalise_with_offsets(source)
    assert mapped.text == "say secret"
    start = mapped.text.index("secret")
    s, e = mapped.source_span(start, start + len("secret"))
    assert source[s:e] == "S\u200b E C R E T"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_offsets_version_agrees_with_normalise(value: str) -> None:
    mapped = t.normalise_with_offsets(value)
    assert mapped.text == t.normalise(value)
    assert len(mapped.offsets) == len(mapped.text)
    assert all(0 <= o < len(value) for o in mapped.offsets)
    assert list(mapped.offsets) == sorted(mapped.offsets)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_normalise_output_is_clean(value: str) -> None:
    once = t.normalise(value)
    assert "  " not in once
    assert once == once.strip()
    assert all(c == " " or c.isalnum() for c in once)


def test_normalised_ordinary_text_is_stable() -> None:
    for sample in ("how old are you", "t as quel age", "add me on snap 13yo", "see you at 5"):
        assert t.normalise(t.normalise(sample)) == t.normalise(sample)


def test_sanitise_replaces_lone_surrogates() -> None:
    assert t.sanitise("a\ud800b") == "a?b"
    assert t.sanitise("fine") == "fine"
    t.sanitise("x\udfff").encode("utf-8")


def test_huge_input_is_handled() -> None:
    assert t.normalise("ab " * 100_000).count(" ") == 99_999


def test_term_hash_is_sha256_of_the_normalised_term() -> None:
    assert t.term_hash("Hello  W0rld") == hashlib.sha256(b"hello world").hexdigest()
    assert t.term_hash("h\u0435llo") == t.term_hash("HELLO")
