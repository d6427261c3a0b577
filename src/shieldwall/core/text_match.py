"""Matching a text against many term-list entries at once.

A :class:`TermMatcher` is built once from every active entry and then answers
:meth:`TermMatcher.match` for any number of texts. Entries of each kind are matched on the
text as :func:`shieldwall.core.text.normalise` leaves it (letters, digits and single spaces):

- ``term`` and ``phrase``: normalised, put into one Aho-Corasick automaton
  (``pyahocorasick``): one pass over the text finds every entry, however many there are.
  A hit counts only as whole words (spaces or the ends on both sides).
- ``hashed``: the SHA-256 of a normalised term (:func:`~shieldwall.core.text.term_hash`),
  for lists shared without spreading the terms. Every run of 1..n consecutive words of the
  text is hashed, for the word counts the hashed entries declare.
- ``regex``: a pattern (the ``regex`` module's syntax) run on the normalised text. Patterns
  are checked when added (:func:`check_pattern`: length, backreferences and nested
  quantifiers — the usual causes of catastrophic backtracking — are refused) *and* every run
  has a time limit: a pattern that runs out of time is reported in
  :attr:`MatchResult.timed_out` and counts as no match. A pattern is only run on a text
  that contains its required literal (:func:`required_literal`), so most texts cost no
  regex search at all.
  Repeats are checked too, before anything is compiled: ``regex`` unrolls a repeat's count
  into its program (``a{1000000}`` takes about 280 MB), so a count above
  :data:`MAX_REPEAT_COUNT`, or repeats that together expand to more than
  :data:`MAX_EXPANDED_SIZE` items (nested counts multiply), are refused. A stored pattern
  that a newer check refuses is skipped when the matcher is built (logged as
  ``text.pattern_skipped`` with the entry's id), so it cannot take a worker down.
- ``url`` and ``domain``: keys from :mod:`shieldwall.core.text_urls`; URLs are extracted
  from the text as written (with common obfuscations undone).

Spans are reported in the text as the caller wrote it (``start``/``end``, end exclusive).
"""

from __future__ import annotations

import hashlib
import importlib
import logging
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from itertools import pairwise
from typing import Any

import ahocorasick
import regex

from shieldwall.core.text import NormalisedText, normalise, normalise_with_offsets
from shieldwall.core.text_urls import domain_candidates, extract_urls, host_of

__all__ = [
    "EntryKind",
    "MatchEntry",
    "MatchResult",
    "Severity",
    "TermHit",
    "TermMatcher",
    "check_pattern",
    "required_literal",
]

log = logging.getLogger(__name__)

MAX_PATTERN_LENGTH = 1000
#: Largest count one repeat may have (``{m}``, ``{m,}``, ``{m,n}``: the larger number).
MAX_REPEAT_COUNT = 1000
#: Most items a pattern may expand to once its repeats are unrolled: nested counts
#: multiply (``(?:a{100}){100}`` is 10,000), sequences and alternatives add up.
MAX_EXPANDED_SIZE = 10_000
_NESTED_QUANTIFIER = re.compile(
    r"\((?:[^()\\]|\\.)*(?:[*+]|\{\d*,\d*\})(?:[^()\\]|\\.)*\)\s*(?:[*+]|\{\d*,\d*\})"
)
_BACKREFERENCE = re.compile(r"\\[1-9]|\(\?P=|\\g<|\\k<")


def required_literal(pattern: str) -> str | None:
    """A literal (3+ characters, lower case) that every match of ``pattern`` contains, or
    None when none is found. Used as a prefilter: a text without it is not searched.

    Read from the parse tree of Python's own parser: literal runs at the top level of the
    pattern and inside groups and repeats that must occur at least once. A pattern Python
    cannot parse (``regex``-only syntax) gets no prefilter and is always run."""
    try:
        import re._parser as sre_parse
        from re._constants import LITERAL, MAX_REPEAT, MIN_REPEAT, SUBPATTERN

        parsed = sre_parse.parse(pattern)
    except Exception:
        return None
    best = ""

    def walk(items: Any) -> None:
        nonlocal best
        run: list[str] = []
        for op, av in items:
            if op is LITERAL:
                run.append(chr(av))
                continue
            if len(run) > len(best):
                best = "".join(run)
            run = []
            if op is SUBPATTERN:
                walk(av[-1])
            elif op in (MAX_REPEAT, MIN_REPEAT) and av[0] >= 1:
                walk(av[2])
        if len(run) > len(best):
            best = "".join(run)

    walk(parsed)
    best = best.lower()
    return best if len(best.strip()) >= 3 else None


class EntryKind(StrEnum):
    TERM = "term"
    PHRASE = "phrase"
    REGEX = "regex"
    HASHED = "hashed"
    URL = "url"
    DOMAIN = "domain"


class Severity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"

    @property
    def rank(self) -> int:
        return {"low": 1, "medium": 2, "high": 3}[self.value]


@dataclass(frozen=True, slots=True)
class MatchEntry:
    """What the matcher needs of one entry. ``value`` is the term, phrase, pattern, SHA-256,
    URL key or domain; ``word_count`` is how many words a hashed term has."""

    id: int
    list_name: str
    kind: EntryKind
    value: str
    category: str
    severity: Severity
    language: str = ""
    word_count: int = 1


@dataclass(frozen=True, slots=True)
class TermHit:
    entry: MatchEntry
    start: int
    end: int


@dataclass
class MatchResult:
    hits: list[TermHit] = field(default_factory=list)
    #: ids of regex entries that ran out of time on this text
    timed_out: list[int] = field(default_factory=list)

    def categories(self) -> set[str]:
        return {h.entry.category for h in self.hits}

    def worst(self, categories: Iterable[str] | None = None) -> Severity | None:
        wanted = set(categories) if categories is not None else None
        ranks = [
            h.entry.severity for h in self.hits if wanted is None or h.entry.category in wanted
        ]
        return max(ranks, key=lambda s: s.rank) if ranks else None


def _parse_tree(pattern: str, core: Any) -> Any:
    """The ``regex`` module's own parse tree of ``pattern``, without compiling it.

    Parsing is cheap whatever the counts (compiling is what unrolls repeats), and reading
    the tree with the parser that will compile the pattern leaves no syntax the check could
    read differently: verbose mode's spaces and comments, ``\\p{...}``, fuzzy ``{e<=1}``,
    character classes. Mirrors the parse step of ``regex._main._compile``: a flag set in the
    middle of the pattern restarts the parse with it as a global flag. ``core`` is
    ``regex._regex_core``."""
    flags = 0
    for _attempt in range(16):
        source = core.Source(pattern)
        info = core.Info(flags, source.char_type, {})
        info.guess_encoding = core.UNICODE
        source.ignore_space = bool(info.flags & core.VERBOSE)
        try:
            return core._parse_pattern(source, info)
        except core._UnscopedFlagSet:
            flags = info.global_flags
    raise ValueError("too many inline flags")


def _expanded_size(node: Any, core: Any) -> int:
    """How many items ``node`` unrolls to; refuses a repeat count above the limit."""
    if isinstance(node, core.GreedyRepeat):  # lazy and possessive repeats are subclasses
        count: int = node.max_count if node.max_count is not None else node.min_count
        if count > MAX_REPEAT_COUNT:
            raise ValueError(
                f"a repeat count above {MAX_REPEAT_COUNT} is not allowed ({count}): "
                "a repeat is unrolled when compiled and would take too much memory"
            )
        return max(1, count) * _expanded_size(node.subpattern, core)
    if isinstance(node, core.SetBase):
        return 1
    size = 0
    for value in vars(node).values():
        children = value if isinstance(value, list | tuple) else (value,)
        size += sum(_expanded_size(c, core) for c in children if isinstance(c, core.RegexBase))
    return max(1, size)


_BRACE_COUNT = re.compile(r"\{\s*(\d[\d\s]*)(?:,\s*([\d\s]*))?\}")


def _counted_repeats(pattern: str) -> int:
    """The fallback when ``regex``'s parser is not the one we know: every ``{m}``,
    ``{m,}`` or ``{m,n}`` in the text (spaces inside ignored, as verbose mode reads them)
    is taken as a repeat, and their counts multiply as if each were nested in the next.
    That over-counts (``a{100}b{200}`` is refused), never under-counts."""
    size = 1
    for low, high in _BRACE_COUNT.findall(pattern):
        count = int("".join((high or low).split()) or "".join(low.split()))
        if count > MAX_REPEAT_COUNT:
            raise ValueError(
                f"a repeat count above {MAX_REPEAT_COUNT} is not allowed ({count}): "
                "a repeat is unrolled when compiled and would take too much memory"
            )
        size *= max(1, count)
        if size > MAX_EXPANDED_SIZE:
            break
    return size


def _check_repeats(pattern: str) -> None:
    """Refuse repeats that would make the compiled pattern huge (see the module docstring).

    The parser is ``regex``'s private module: should a release change it, the counts are
    read from the pattern's text instead (:func:`_counted_repeats`, stricter), so patterns
    are never compiled unchecked and ordinary ones keep working; the tests say so."""
    try:
        core: Any = importlib.import_module("regex._regex_core")
        size = _expanded_size(_parse_tree(pattern, core), core)
    except regex.error as exc:  # the parser raises the public regex.error
        raise ValueError(f"invalid regular expression: {exc}") from None
    except RecursionError:
        raise ValueError("groups are nested too deeply") from None
    except (ImportError, AttributeError, TypeError):
        size = _counted_repeats(pattern)
    if size > MAX_EXPANDED_SIZE:
        raise ValueError(
            f"the repeats expand the pattern to more than {MAX_EXPANDED_SIZE} items "
            "(nested repeats multiply their counts: (?:a{100}){100} is 10000 already)"
        )


def check_pattern(pattern: str) -> regex.Pattern[str]:
    """Compile a list entry's pattern, or raise ``ValueError`` saying why it is refused.

    Everything that is refused is refused before ``regex.compile`` runs, so a refused
    pattern costs neither time nor memory."""
    if not pattern:
        raise ValueError("empty pattern")
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise ValueError(f"pattern longer than {MAX_PATTERN_LENGTH} characters")
    if _BACKREFERENCE.search(pattern):
        raise ValueError("backreferences are not allowed (they can take exponential time)")
    if _NESTED_QUANTIFIER.search(pattern):
        raise ValueError(
            "nested quantifiers like (a+)+ are not allowed (catastrophic backtracking)"
        )
    _check_repeats(pattern)
    try:
        return regex.compile(pattern)
    except regex.error as exc:
        raise ValueError(f"invalid regular expression: {exc}") from None
    except RecursionError:
        raise ValueError("groups are nested too deeply") from None


_DIGEST_CACHE_SIZE = 200_000


_UNSPACED_RANGES = (
    (0x0E00, 0x0EFF),  # Thai, Lao
    (0x1000, 0x109F),  # Myanmar
    (0x1780, 0x17FF),  # Khmer
    (0x3040, 0x30FF),  # Hiragana, Katakana
    (0x3400, 0x4DBF),  # CJK extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0x20000, 0x3134F),  # CJK extensions B-G
)


def _unspaced(ch: str) -> bool:
    """Whether ``ch`` belongs to a script written without spaces between words."""
    code = ord(ch)
    return any(lo <= code <= hi for lo, hi in _UNSPACED_RANGES)


def _grams(words: list[str], n: int) -> Iterable[str]:
    """Runs of ``n`` consecutive words, joined by spaces, built at C speed."""
    if n == 1:
        return words
    if n == 2:
        return map(" ".join, pairwise(words))
    return map(" ".join, zip(*(words[i:] for i in range(n)), strict=False))


class _DigestCache(dict[str, bytes]):
    """n-gram -> its SHA-256, computed on first use."""

    def __missing__(self, gram: str) -> bytes:
        digest = hashlib.sha256(gram.encode()).digest()
        self[gram] = digest
        return digest


class TermMatcher:
    """Every active entry, compiled; immutable once built, safe to share between threads."""

    def __init__(self, entries: Iterable[MatchEntry], *, regex_timeout: float = 0.05) -> None:
        self.regex_timeout = regex_timeout
        self.size = 0
        self._automaton: ahocorasick.Automaton | None = None
        words: dict[str, list[MatchEntry]] = {}
        self._hashed: dict[bytes, list[MatchEntry]] = {}
        self._digests = _DigestCache()
        self._hash_lengths: set[int] = set()
        self._regexes: list[tuple[MatchEntry, regex.Pattern[str], str | None]] = []
        self._urls: dict[str, list[MatchEntry]] = {}
        self._domains: dict[str, list[MatchEntry]] = {}
        for entry in entries:
            self.size += 1
            if entry.kind in (EntryKind.TERM, EntryKind.PHRASE):
                key = normalise(entry.value)
                if key:
                    words.setdefault(key, []).append(entry)
            elif entry.kind is EntryKind.HASHED:
                try:
                    digest = bytes.fromhex(entry.value)
                except ValueError:
                    continue
                self._hashed.setdefault(digest, []).append(entry)
                self._hash_lengths.add(max(1, entry.word_count))
            elif entry.kind is EntryKind.REGEX:
                try:
                    compiled = check_pattern(entry.value)
                    self._regexes.append((entry, compiled, required_literal(entry.value)))
                except ValueError:
                    # refused when added; a row stored before a check existed is skipped,
                    # not compiled (logged by id: never the pattern)
                    log.warning("text.pattern_skipped", extra={"entry_id": entry.id})
                    continue
            elif entry.kind is EntryKind.URL:
                self._urls.setdefault(entry.value, []).append(entry)
            elif entry.kind is EntryKind.DOMAIN:
                self._domains.setdefault(entry.value, []).append(entry)
        self._hash_lengths_sorted = sorted(self._hash_lengths)
        if words:
            automaton = ahocorasick.Automaton()
            for key, found in words.items():
                # scripts written without spaces (Chinese, Japanese, Thai...) have no word
                # boundaries to check: a term's edge in such a script matches anywhere
                automaton.add_word(
                    key, (len(key), tuple(found), _unspaced(key[0]), _unspaced(key[-1]))
                )
            automaton.make_automaton()
            self._automaton = automaton
        # regexes with a required literal are found through one pass over their literals
        self._always: list[int] = []
        self._by_literal: ahocorasick.Automaton | None = None
        literals: dict[str, list[int]] = {}
        for i, (_e, _p, literal) in enumerate(self._regexes):
            if literal is None:
                self._always.append(i)
            else:
                literals.setdefault(literal, []).append(i)
        if literals:
            by_literal = ahocorasick.Automaton()
            for literal, idx in literals.items():
                by_literal.add_word(literal, tuple(idx))
            by_literal.make_automaton()
            self._by_literal = by_literal

    @property
    def has_urls(self) -> bool:
        return bool(self._urls or self._domains)

    def match(self, text: str, *, urls: bool = True, norm: str | None = None) -> MatchResult:
        """Every entry that matches ``text``, with spans in ``text``. ``norm`` may pass
        ``normalise(text)`` when the caller has it already."""
        result = MatchResult()
        if norm is None:
            norm = normalise(text)
        found: list[tuple[MatchEntry, int, int]] = []  # spans in the normalised text
        if self._automaton is not None and norm:
            n = len(norm)
            for end_idx, (length, entries, free_left, free_right) in self._automaton.iter(norm):
                start = end_idx - length + 1
                if (free_left or start == 0 or norm[start - 1] == " ") and (
                    free_right or end_idx + 1 == n or norm[end_idx + 1] == " "
                ):
                    found.extend((e, start, end_idx + 1) for e in entries)
        if self._hashed and norm:
            found.extend(self._match_hashed(norm))
        if self._regexes and norm:
            found.extend(self._match_regexes(norm, result))
        if found:
            mapped = normalise_with_offsets(text)
            result.hits.extend(_to_source(mapped, found))
        if urls and self.has_urls:
            result.hits.extend(self.match_urls(text))
        return result

    def _match_hashed(self, norm: str) -> list[tuple[MatchEntry, int, int]]:
        words = norm.split(" ")
        hashed = self._hashed
        cache = self._digests
        if len(cache) > _DIGEST_CACHE_SIZE:
            cache.clear()
        out: list[tuple[MatchEntry, int, int]] = []
        for n in self._hash_lengths_sorted:
            if len(words) < n:
                break
            # common words and pairs repeat: their digests come from the cache, at C speed
            if hashed.keys().isdisjoint(map(cache.__getitem__, _grams(words, n))):
                continue
            at = 0
            starts = []
            for w in words:
                starts.append(at)
                at += len(w) + 1
            for i, gram in enumerate(_grams(words, n)):
                for entry in hashed.get(cache[gram], ()):
                    if entry.word_count == n:
                        out.append((entry, starts[i], starts[i] + len(gram)))
        return out

    def _match_regexes(
        self, norm: str, result: MatchResult
    ) -> Iterable[tuple[MatchEntry, int, int]]:
        wanted = set(self._always)
        if self._by_literal is not None:
            for _end, idx in self._by_literal.iter(norm):
                wanted.update(idx)
        if not wanted:
            return
        deadline = time.monotonic() + self.regex_timeout * 4
        for i in sorted(wanted):
            entry, pattern, _literal = self._regexes[i]
            remaining = min(self.regex_timeout, deadline - time.monotonic())
            if remaining <= 0:
                result.timed_out.append(entry.id)
                continue
            try:
                m = pattern.search(norm, timeout=remaining)
            except TimeoutError:
                result.timed_out.append(entry.id)
                continue
            if m is not None and m.end() > m.start():
                yield entry, m.start(), m.end()

    def match_urls(self, text: str) -> list[TermHit]:
        hits: list[TermHit] = []
        for raw, key in extract_urls(text):
            start = text.find(raw)
            span = (start, start + len(raw)) if start >= 0 else (0, 0)
            hits.extend(self.lookup_url(key, span))
        return hits

    def lookup_url(self, key: str, span: tuple[int, int] = (0, 0)) -> list[TermHit]:
        """Entries matching a normalised URL key: the exact URL, or its host or a parent
        domain of it."""
        hits = [TermHit(e, *span) for e in self._urls.get(key, ())]
        for candidate in domain_candidates(host_of(key)):
            hits.extend(TermHit(e, *span) for e in self._domains.get(candidate, ()))
        return hits


def _to_source(
    mapped: NormalisedText, found: Sequence[tuple[MatchEntry, int, int]]
) -> list[TermHit]:
    hits = []
    for entry, start, end in found:
        s, e = mapped.source_span(start, end)
        hits.append(TermHit(entry, s, e))
    return hits
