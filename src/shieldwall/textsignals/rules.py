"""Grooming indicator rules: data, not code (principle 3).

A rule set is a JSON file (the default ships as ``data/grooming_rules.json``; the setting
``grooming_rules_file`` points at another). It has a ``version`` (recorded with every score
and case), a ``threshold``, the weight of a known adult→minor pair, weights for term-list
hits by severity, and indicators, each with an ``id``, a ``weight``, ``keywords`` and
``patterns``. Patterns are regular expressions (the ``regex`` module's syntax, checked like
term-list patterns and run with a time limit) matched on the normalised text; an
indicator's patterns are tried only when one of its keywords occurs in the text as a whole
word (one Aho-Corasick pass finds them all), which keeps ordinary messages cheap.

Scoring a window (:func:`RuleSet.score`): each indicator counts once, with its weight,
however often it occurs; combinations (``first`` then, in a later or the same message,
``then``) add theirs; a known adult→minor pair adds ``pair_weight``; term-list hits add a
weight by severity (one per category). When the window holds a known adult and a known
minor, only what adults (and participants of unknown age) sent counts. The score is
compared with ``threshold``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path

import ahocorasick
import regex
from pydantic import BaseModel, ConfigDict, Field, field_validator

from shieldwall.core.text import normalise, normalise_with_offsets
from shieldwall.core.text_match import Severity, check_pattern

__all__ = [
    "IndicatorHit",
    "RuleSet",
    "RulesFile",
    "ScoredWindow",
    "WindowMessage",
    "default_rules",
    "load_rules",
]

PAIR_INDICATOR = "adult_minor_pair"


class IndicatorRule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")
    weight: float = Field(ge=0, le=10)
    description: str = ""
    keywords: list[str] = Field(min_length=1)
    patterns: list[str] = Field(min_length=1)

    @field_validator("patterns")
    @classmethod
    def _patterns(cls, values: list[str]) -> list[str]:
        for p in values:
            try:
                check_pattern(p)
            except ValueError as exc:
                raise ValueError(f"pattern {p[:60]!r}: {exc}") from None
        return values


class Combination(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")
    weight: float = Field(ge=0, le=10)
    description: str = ""
    first: str
    then: str


class RulesFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: str = Field(min_length=1, max_length=40)
    description: str = ""
    threshold: float = Field(gt=0)
    pair_weight: float = Field(ge=0, le=10)
    term_list_weights: dict[Severity, float]
    #: added once per classifier label over its threshold (text classifier plug-ins)
    classifier_weight: float = Field(0.5, ge=0, le=10)
    indicators: list[IndicatorRule] = Field(min_length=1)
    combinations: list[Combination] = Field(default_factory=list)


@dataclass(frozen=True, slots=True)
class IndicatorHit:
    """An indicator found in one message; ``start``/``end`` index the message as sent."""

    indicator: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class WindowMessage:
    ref: str
    sender: str
    hits: Sequence[IndicatorHit]
    #: term-list hits in this message: (category, severity)
    list_hits: Sequence[tuple[str, str]] = ()
    #: text classifier labels over their thresholds: (classifier, label)
    classifier_hits: Sequence[tuple[str, str]] = ()


@dataclass
class ScoredWindow:
    score: float
    threshold: float
    #: (indicator id, weight, message ref or None, start, end); one per counted indicator
    indicators: list[tuple[str, float, str | None, int | None, int | None]] = field(
        default_factory=list
    )

    @property
    def over_threshold(self) -> bool:
        return self.score >= self.threshold

    @property
    def ids(self) -> list[str]:
        return [i[0] for i in self.indicators]


class RuleSet:
    """A compiled rule set; immutable, safe to share between threads."""

    def __init__(self, data: RulesFile, *, regex_timeout: float = 0.05) -> None:
        self.data = data
        self.version = data.version
        self.threshold = data.threshold
        self.regex_timeout = regex_timeout
        self.weights = {r.id: r.weight for r in data.indicators}
        known = set(self.weights)
        for combo in data.combinations:
            for ref in (combo.first, combo.then):
                if ref not in known:
                    raise ValueError(f"combination {combo.id!r} names unknown indicator {ref!r}")
        self._patterns: dict[str, regex.Pattern[str]] = {
            r.id: regex.compile("|".join(f"(?:{p})" for p in r.patterns)) for r in data.indicators
        }
        automaton = ahocorasick.Automaton()
        index: dict[str, set[str]] = {}
        for r in data.indicators:
            for kw in r.keywords:
                key = normalise(kw)
                if key:
                    index.setdefault(key, set()).add(r.id)
        for key, ids in index.items():
            automaton.add_word(key, (len(key), frozenset(ids)))
        automaton.make_automaton()
        self._keywords = automaton

    @property
    def indicator_ids(self) -> list[str]:
        return [r.id for r in self.data.indicators]

    def _candidates(self, norm: str) -> set[str]:
        found: set[str] = set()
        n = len(norm)
        for end, (length, ids) in self._keywords.iter(norm):
            start = end - length + 1
            if (start == 0 or norm[start - 1] == " ") and (end + 1 == n or norm[end + 1] == " "):
                found |= ids
        return found

    def detect(self, text: str, *, norm: str | None = None) -> list[IndicatorHit]:
        """The indicators in one message, with spans in ``text``. ``norm`` may pass
        ``normalise(text)`` when the caller has it already."""
        if norm is None:
            norm = normalise(text)
        if not norm:
            return []
        candidates = self._candidates(norm)
        if not candidates:
            return []
        found: list[tuple[str, int, int]] = []
        deadline = time.monotonic() + self.regex_timeout * 4
        for rule_id in self.indicator_ids:
            if rule_id not in candidates:
                continue
            remaining = min(self.regex_timeout, deadline - time.monotonic())
            if remaining <= 0:
                break
            try:
                m = self._patterns[rule_id].search(norm, timeout=remaining)
            except TimeoutError:
                continue
            if m is not None:
                found.append((rule_id, m.start(), m.end()))
        if not found:
            return []
        mapped = normalise_with_offsets(text)
        return [IndicatorHit(i, *mapped.source_span(s, e)) for i, s, e in found]

    def score(
        self,
        messages: Iterable[WindowMessage],
        *,
        adults: set[str] | frozenset[str] = frozenset(),
        minors: set[str] | frozenset[str] = frozenset(),
        pair_known: bool = False,
    ) -> ScoredWindow:
        """Score a window (oldest message first); see the module docstring."""
        result = ScoredWindow(score=0.0, threshold=self.threshold)
        only_adults = bool(adults and minors)
        first_seen: dict[str, int] = {}
        position = 0
        for msg in messages:
            if only_adults and msg.sender in minors:
                continue
            position += 1
            for hit in msg.hits:
                if hit.indicator in first_seen or hit.indicator not in self.weights:
                    continue
                first_seen[hit.indicator] = position
                weight = self.weights[hit.indicator]
                result.indicators.append((hit.indicator, weight, msg.ref, hit.start, hit.end))
            for category, severity in msg.list_hits:
                key = f"list_{category}"
                if key in first_seen:
                    continue
                first_seen[key] = position
                weight = self.data.term_list_weights.get(Severity(severity), 0.0)
                result.indicators.append((key, weight, msg.ref, None, None))
            for classifier, label in msg.classifier_hits:
                key = f"classifier_{classifier}_{label}"[:60]
                if key in first_seen:
                    continue
                first_seen[key] = position
                result.indicators.append((key, self.data.classifier_weight, msg.ref, None, None))
        for combo in self.data.combinations:
            a, b = first_seen.get(combo.first), first_seen.get(combo.then)
            if a is not None and b is not None and a <= b:
                result.indicators.append((combo.id, combo.weight, None, None, None))
        if pair_known:
            result.indicators.append((PAIR_INDICATOR, self.data.pair_weight, None, None, None))
        result.score = round(sum(i[1] for i in result.indicators), 4)
        return result


def load_rules(path: Path | None, *, regex_timeout: float = 0.05) -> RuleSet:
    """The rule set in ``path``, or the default; raises ``ValueError`` naming the problem."""
    if path is None:
        return default_rules(regex_timeout)
    try:
        raw = json.loads(Path(path).read_text("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"grooming rules file {path}: {exc}") from None
    return RuleSet(RulesFile.model_validate(raw), regex_timeout=regex_timeout)


@cache
def default_rules(regex_timeout: float = 0.05) -> RuleSet:
    raw = resources.files("shieldwall.textsignals").joinpath("data/grooming_rules.json")
    return RuleSet(
        RulesFile.model_validate(json.loads(raw.read_text("utf-8"))), regex_timeout=regex_timeout
    )
