"""Text normalisation: one function that every text check uses.

:func:`normalise` turns a text into the form term lists, indicator rules and hashed terms
are matched against. The steps, in this order (each is a public function with its own
tests, so the order is part of the contract):

1. :func:`strip_invisible` — drop zero-width and format characters (Unicode category Cf:
   ZWSP, ZWJ, soft hyphen, bidi controls), surrogates, private-use and non-characters;
   control characters (Cc) become spaces so words either side stay apart.
2. :func:`nfkc` — Unicode NFKC: full-width, ligatures, mathematical alphanumerics, circled
   and super/subscript letters become plain letters and digits.
3. :func:`fold_case` — Unicode case folding (``casefold``: ``ß`` → ``ss``).
4. :func:`strip_marks` — decompose (NFD) and drop combining marks (Mn, Me), so ``é`` → ``e``
   and stacked "zalgo" marks vanish.
5. :func:`fold_confusables` — map letters that look like Latin letters (Cyrillic
   ``\u0430``, Greek ``\u03bf``, dotless ``\u0131``...) to those letters, using the Unicode
   confusables table as shipped by the maintained ``confusable-homoglyphs`` package (only
   mappings onto Latin letters are used; digits and punctuation are left to step 7).
6. :func:`join_spaced` — de-obfuscation: a run of three or more single characters split by
   one and the same separator of spaces or punctuation (``w.o.r.d``, ``w o r d``,
   ``w-o-r-d``), with at least two letters, becomes one word.
7. :func:`fold_leetspeak` — in a word that starts with a letter, ``0 1 3 4 5 7 8 9 @ $ ! |
   + €`` become ``o i e a s t b g a s i l t e``; words that start with a digit (``13yo``,
   ``4ever``) and numbers are left alone, so ages and counts survive.
8. :func:`collapse` — everything that is not a letter or digit becomes one space; no
   leading or trailing space.

The result holds only letters, digits and single spaces, so a term matches "as a whole
word" when the characters around it are spaces or the ends. Steps 1-5 work one code point
at a time (NFKC per code point: a base letter and a combining mark compose differently
than apart, but step 4 removes the mark either way), which lets
:func:`normalise_with_offsets` say, for every output character, which input character it
came from — how a match is reported as a span of the text the caller sent.

:func:`term_hash` is the SHA-256 of a normalised term, the form in which term lists are
shared hashed.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources

__all__ = [
    "NormalisedText",
    "collapse",
    "fold_case",
    "fold_confusables",
    "fold_leetspeak",
    "join_spaced",
    "nfkc",
    "normalise",
    "normalise_with_offsets",
    "sanitise",
    "strip_invisible",
    "strip_marks",
    "term_hash",
]

_DROP_CATEGORIES = frozenset({"Cf", "Cs", "Co", "Cn"})
_MARK_CATEGORIES = frozenset({"Mn", "Me"})
_LEET = str.maketrans("01345789@$!|+€", "oieastbgasilte")
# a word that starts with a letter (or @/$ before one); symbols count only inside it
_LEET_WORD = re.compile(r"(?<![^\W_])(?:[^\W\d_]|[@$](?=[^\W\d_]))(?:[^\W_]|[@$!|+€](?=[^\W_]))*")
# 3+ single characters (letters, digits, @ $) split by one and the same separator (1-3
# spaces or punctuation): "w.o.r.d", "w o r d", but "a w.o.r.d" keeps its "a"
_CH = r"(?:[^\W_]|[@$])"
_SEP = r"(?:[^\w@$]|_){1,3}"
_SPACED = re.compile(
    rf"(?<![^\W_])(?<![@$]){_CH}(?P<sep>{_SEP}){_CH}(?:(?P=sep){_CH})+(?![^\W_])(?![@$])"
)
_SEP_RE = re.compile(_SEP)
_NON_WORD = re.compile(r"[\W_]+")
# a quick test before the word-by-word folding: a letter next to a leet character
_LEET_ANY = re.compile(r"[^\W\d_][0-9@$!|+€]|[@$][^\W\d_]")
# ASCII fast path of steps 1-5: controls to spaces, upper to lower case, DEL to space
_ASCII_TABLE = {i: " " for i in (*range(32), 127)} | {
    i: chr(i + 32) for i in range(ord("A"), ord("Z") + 1)
}


def sanitise(text: str) -> str:
    """The text with lone surrogates (which cannot be encoded as UTF-8) replaced by U+FFFD;
    for anything that is stored or sealed."""
    if text.isascii():
        return text
    return text.encode("utf-8", "replace").decode("utf-8")


# ---- steps 1-5: one code point at a time ---------------------------------------------------


def _invisible(ch: str) -> str:
    cat = unicodedata.category(ch)
    if cat in _DROP_CATEGORIES:
        return ""
    if cat == "Cc":
        return " "
    return ch


def strip_invisible(text: str) -> str:
    """Step 1: drop Cf/Cs/Co/Cn code points; control characters become spaces."""
    return "".join(_invisible(ch) for ch in text)


def nfkc(text: str) -> str:
    """Step 2: Unicode NFKC."""
    return unicodedata.normalize("NFKC", text)


def fold_case(text: str) -> str:
    """Step 3: Unicode case folding."""
    return text.casefold()


def strip_marks(text: str) -> str:
    """Step 4: NFD, then drop combining marks (Mn, Me)."""
    return "".join(
        ch
        for ch in unicodedata.normalize("NFD", text)
        if unicodedata.category(ch) not in _MARK_CATEGORIES
    )


@cache
def _confusable_table() -> dict[str, str]:
    """Non-ASCII code point -> the Latin letter(s) it is confusable with (lower case)."""
    raw = resources.files("confusable_homoglyphs").joinpath("confusables.json").read_text("utf-8")
    data: dict[str, list[dict[str, str]]] = json.loads(raw)
    direct: dict[str, str] = {}
    reverse: dict[str, str] = {}
    for key, glyphs in data.items():
        if len(key) != 1:
            continue
        if key.isascii():
            if not key.isalpha():
                continue
            for glyph in glyphs:
                c = glyph["c"]
                if len(c) == 1 and not c.isascii():
                    reverse.setdefault(c, key.lower())
            continue
        for glyph in glyphs:
            c = glyph["c"]
            if c.isascii() and c.isalpha() and len(c) <= 2:
                direct.setdefault(key, c.lower())
                break
    # what a code point looks like, by itself, wins over what looks like a Latin letter
    table = reverse | direct
    # fold only what survives steps 1-4 unchanged, so the table applies to their output
    return {k: v for k, v in table.items() if _steps_1_to_4(k) == k}


def fold_confusables(text: str) -> str:
    """Step 5: letters confusable with Latin letters become those letters."""
    if text.isascii():
        return text
    table = _confusable_table()
    return "".join(table.get(ch, ch) for ch in text)


def _steps_1_to_4(ch: str) -> str:
    return strip_marks(fold_case(nfkc(_invisible(ch))))


@lru_cache(maxsize=65_536)
def _fold_char(ch: str) -> str:
    out = _steps_1_to_4(ch)
    table = _confusable_table()
    return "".join(table.get(c, c) for c in out)


# ---- steps 6-8: words ----------------------------------------------------------------------


def join_spaced(text: str) -> str:
    """Step 6: ``w.o.r.d`` and ``w o r d`` (3+ single characters, 2+ of them letters) become
    ``word``."""
    return _join_spaced(text, None)[0]


def fold_leetspeak(text: str) -> str:
    """Step 7: leetspeak digits and symbols inside words that start with a letter."""
    if _LEET_ANY.search(text) is None:  # most texts have nothing to fold
        return text
    return _LEET_WORD.sub(lambda m: m.group(0).translate(_LEET), text)


def collapse(text: str) -> str:
    """Step 8: every run of non-letters/digits becomes one space; trimmed."""
    return _NON_WORD.sub(" ", text).strip()


def _letters(chunk: str) -> int:
    return sum(1 for c in chunk if c.isalpha())


def _join_spaced(text: str, offsets: list[int] | None) -> tuple[str, list[int] | None]:
    parts: list[str] = []
    new_offsets: list[int] | None = [] if offsets is not None else None
    pos = 0
    for m in _SPACED.finditer(text):
        chunk = m.group(0)
        if _letters(chunk) < 2:
            continue
        start, end = m.span()
        parts.append(text[pos:start])
        if new_offsets is not None and offsets is not None:
            new_offsets.extend(offsets[pos:start])
        # keep the characters, drop the separators (with their offsets)
        last = start
        for sep in _SEP_RE.finditer(text, start, end):
            parts.append(text[last : sep.start()])
            if new_offsets is not None and offsets is not None:
                new_offsets.extend(offsets[last : sep.start()])
            last = sep.end()
        parts.append(text[last:end])
        if new_offsets is not None and offsets is not None:
            new_offsets.extend(offsets[last:end])
        pos = end
    if pos == 0:
        return text, offsets
    parts.append(text[pos:])
    if new_offsets is not None and offsets is not None:
        new_offsets.extend(offsets[pos:])
    return "".join(parts), new_offsets


def _collapse(text: str, offsets: list[int]) -> tuple[str, list[int]]:
    parts: list[str] = []
    new_offsets: list[int] = []
    pos = 0
    for m in _NON_WORD.finditer(text):
        start, end = m.span()
        parts.append(text[pos:start])
        new_offsets.extend(offsets[pos:start])
        if start > 0 and end < len(text):
            parts.append(" ")
            new_offsets.append(offsets[start])
        pos = end
    parts.append(text[pos:])
    new_offsets.extend(offsets[pos:])
    return "".join(parts), new_offsets


# ---- the pipeline --------------------------------------------------------------------------


class _FoldTable(dict[int, str]):
    """Code point -> steps 1-5 of it, filled on first use; ``str.translate`` reads it in C."""

    def __missing__(self, code: int) -> str:
        folded = _fold_char(chr(code))
        if len(self) < 200_000:
            self[code] = folded
        return folded


_FOLD_TABLE = _FoldTable()


def _fold(text: str) -> str:
    if text.isascii():
        return text.translate(_ASCII_TABLE)
    return text.translate(_FOLD_TABLE)


def normalise(text: str) -> str:
    """Steps 1-8 in order; see the module docstring."""
    folded, _ = _join_spaced(_fold(text), None)
    return collapse(fold_leetspeak(folded))


@dataclass(frozen=True, slots=True)
class NormalisedText:
    """A normalised text and, for each of its characters, the index of the input character
    it came from."""

    text: str
    offsets: tuple[int, ...]

    def source_span(self, start: int, end: int) -> tuple[int, int]:
        """The span of the input that produced ``text[start:end]`` (end exclusive)."""
        if not self.offsets or start >= end:
            return (0, 0)
        return (self.offsets[start], self.offsets[end - 1] + 1)


def normalise_with_offsets(text: str) -> NormalisedText:
    """:func:`normalise`, with the offset of every output character in ``text``.

    ``normalise_with_offsets(t).text == normalise(t)`` for every ``t``.
    """
    if text.isascii():
        folded = text.translate(_ASCII_TABLE)
        offsets = list(range(len(text)))
    else:
        pieces: list[str] = []
        offsets = []
        for i, ch in enumerate(text):
            out = _fold_char(ch)
            pieces.append(out)
            offsets.extend([i] * len(out))
        folded = "".join(pieces)
    joined, joined_offsets = _join_spaced(folded, offsets)
    assert joined_offsets is not None
    result, final_offsets = _collapse(fold_leetspeak(joined), joined_offsets)
    # _collapse keeps inner spaces only; strip leading/trailing like collapse()
    return NormalisedText(result, tuple(final_offsets))


def term_hash(term: str) -> str:
    """SHA-256 (hex) of the normalised term: how a hashed term-list entry is written."""
    return hashlib.sha256(normalise(term).encode("utf-8")).hexdigest()
