"""How urgent a case is: a small rule set, kept as data.

Pure: no database, web or settings imports. :func:`evaluate` takes the facts of a case
(:class:`CaseFacts`) and a tuple of :class:`PriorityRule`; every rule whose conditions all
hold gives a value (``priority`` plus ``score_weight`` times the top score), and the case takes the
highest (on a tie, the rule with the shorter service-level target). That rule's
``due_hours`` sets the case's due time, counted from detection. A case no rule matches gets
priority 0 and :data:`FALLBACK_DUE_HOURS`.

The defaults (:data:`DEFAULT_RULES`) put, highest first: a report that a child is in
danger; a bank match labelled A1; other industry-classified bank matches; grooming in a
conversation; escalated cases; survivors' takedown requests; any other bank match and listed
URLs; solicitation and serious user reports; classifier scores (by score); appeals; other
user reports; everything else. Operators replace them with the
``case_priority_rules`` setting (a list of tables with the fields of
:class:`PriorityRule`); :func:`parse_rules` checks such a list and says what is wrong.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

#: Signal sources a rule may name (the values of ``cases.schemas.CaseSource``).
KNOWN_SOURCES = frozenset(
    {
        "hash_match",
        "classifier",
        "user_report",
        "survivor_request",
        "appeal",
        "grooming",
        "solicitation",
        "url_match",
    }
)
#: Due time for a case no rule matches (one week).
FALLBACK_DUE_HOURS = 168.0
MAX_PRIORITY = 100_000
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,59}$")
_FIELDS = (
    "name",
    "priority",
    "due_hours",
    "sources",
    "labels",
    "child_in_danger",
    "escalated",
    "min_score",
    "score_weight",
    "description",
)


@dataclass(frozen=True)
class CaseFacts:
    """What the rules look at: the union over a case's signals."""

    sources: frozenset[str] = frozenset()
    labels: frozenset[str] = frozenset()
    child_in_danger: bool = False
    top_score: float | None = None
    escalated: bool = False


@dataclass(frozen=True)
class PriorityRule:
    """One rule. Empty ``sources``/``labels`` and ``None`` conditions match anything;
    non-empty sets match when the case has at least one of their members."""

    name: str
    priority: int
    due_hours: float
    sources: frozenset[str] = frozenset()
    labels: frozenset[str] = frozenset()
    child_in_danger: bool | None = None
    escalated: bool | None = None
    min_score: float | None = None
    score_weight: float = 0.0
    description: str = ""

    def matches(self, facts: CaseFacts) -> bool:
        if self.sources and not (self.sources & facts.sources):
            return False
        if self.labels and not (self.labels & facts.labels):
            return False
        if self.child_in_danger is not None and facts.child_in_danger != self.child_in_danger:
            return False
        if self.escalated is not None and facts.escalated != self.escalated:
            return False
        return self.min_score is None or (
            facts.top_score is not None and facts.top_score >= self.min_score
        )

    def value(self, facts: CaseFacts) -> int:
        bonus = self.score_weight * (facts.top_score or 0.0)
        return self.priority + round(bonus)


@dataclass(frozen=True)
class PriorityResult:
    priority: int
    rule: str
    due_hours: float


DEFAULT_RULES: tuple[PriorityRule, ...] = (
    PriorityRule(
        "child_in_danger",
        1000,
        1,
        child_in_danger=True,
        description="A report says a child is in danger now.",
    ),
    PriorityRule(
        "bank_match_a1",
        900,
        4,
        sources=frozenset({"hash_match"}),
        labels=frozenset({"A1"}),
        description="Matches a bank entry labelled A1.",
    ),
    PriorityRule(
        "bank_match_classified",
        850,
        8,
        sources=frozenset({"hash_match"}),
        labels=frozenset({"A2", "B1", "B2"}),
        description="Matches a bank entry labelled A2, B1 or B2.",
    ),
    PriorityRule(
        "grooming",
        800,
        8,
        sources=frozenset({"grooming"}),
        description="A conversation shows grooming indicators: a child may be at risk now.",
    ),
    PriorityRule(
        "escalated", 750, 24, escalated=True, description="A reviewer escalated the case."
    ),
    PriorityRule(
        "survivor_request",
        700,
        24,
        sources=frozenset({"survivor_request"}),
        description="A survivor (or a helper) asked for takedown.",
    ),
    PriorityRule(
        "bank_match",
        600,
        24,
        sources=frozenset({"hash_match"}),
        description="Matches a review bank (no industry label).",
    ),
    PriorityRule(
        "url_match",
        600,
        24,
        sources=frozenset({"url_match"}),
        description="Text names a URL or domain listed as abuse material.",
    ),
    PriorityRule(
        "solicitation",
        500,
        24,
        sources=frozenset({"solicitation"}),
        description="A post or profile advertises or solicits a child or abuse material.",
    ),
    PriorityRule(
        "serious_user_report",
        500,
        24,
        sources=frozenset({"user_report"}),
        labels=frozenset({"child_sexual_exploitation", "grooming", "sextortion"}),
        description="A user reported sexual exploitation of a child, grooming or sextortion.",
    ),
    PriorityRule(
        "classifier",
        200,
        72,
        sources=frozenset({"classifier"}),
        score_weight=300,
        description="A classifier score over its threshold: 200 plus 300 times the score.",
    ),
    PriorityRule(
        "appeal", 400, 72, sources=frozenset({"appeal"}), description="An appeal of an action."
    ),
    PriorityRule(
        "user_report", 300, 72, sources=frozenset({"user_report"}), description="Any user report."
    ),
    PriorityRule("default", 100, FALLBACK_DUE_HOURS, description="Anything else."),
)


def evaluate(facts: CaseFacts, rules: Sequence[PriorityRule] = DEFAULT_RULES) -> PriorityResult:
    """The highest value among matching rules; ties go to the shorter due time."""
    best: PriorityResult | None = None
    for rule in rules:
        if not rule.matches(facts):
            continue
        candidate = PriorityResult(rule.value(facts), rule.name, rule.due_hours)
        if best is None or (candidate.priority, -candidate.due_hours) > (
            best.priority,
            -best.due_hours,
        ):
            best = candidate
    return best or PriorityResult(0, "none", FALLBACK_DUE_HOURS)


def facts_of(
    *,
    sources: Iterable[str],
    labels: Iterable[str],
    child_in_danger: bool,
    top_score: float | None,
    escalated: bool,
) -> CaseFacts:
    return CaseFacts(
        sources=frozenset(sources),
        labels=frozenset(labels),
        child_in_danger=child_in_danger,
        top_score=top_score,
        escalated=escalated,
    )


# ---- configuration -------------------------------------------------------------------------


def _strings(value: Any, where: str) -> frozenset[str]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise ValueError(f"{where} must be a list of strings")
    items = list(value)
    if not all(isinstance(v, str) and 0 < len(v) <= 60 for v in items):
        raise ValueError(f"{where} must be a list of non-empty strings (at most 60 characters)")
    return frozenset(items)


def _number(value: Any, where: str, *, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{where} must be a number")
    if not low <= value <= high:
        raise ValueError(f"{where} must be between {low:g} and {high:g}, got {value:g}")
    return float(value)


def _optional_bool(value: Any, where: str) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    raise ValueError(f"{where} must be true, false or left out")


def parse_rule(raw: Mapping[str, Any], position: int = 0) -> PriorityRule:
    """One rule from a table (TOML) or object (JSON); ``ValueError`` says what is wrong."""
    where = f"case_priority_rules[{position}]"
    if not isinstance(raw, Mapping):
        raise ValueError(f"{where} must be a table/object")
    unknown = sorted(set(raw) - set(_FIELDS))
    if unknown:
        raise ValueError(
            f"{where}: unknown field(s) {', '.join(unknown)}; known: {', '.join(_FIELDS)}"
        )
    name = raw.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValueError(f"{where}.name must be lower-case letters, digits and _ (at most 60)")
    for required in ("priority", "due_hours"):
        if required not in raw:
            raise ValueError(f"{where} ({name}): {required} is required")
    priority = _number(raw["priority"], f"{where}.priority", low=0, high=MAX_PRIORITY)
    if priority != int(priority):
        raise ValueError(f"{where}.priority must be a whole number")
    sources = _strings(raw.get("sources", ()), f"{where}.sources")
    bad = sorted(sources - KNOWN_SOURCES)
    if bad:
        raise ValueError(
            f"{where}.sources: unknown source(s) {', '.join(bad)}; "
            f"known: {', '.join(sorted(KNOWN_SOURCES))}"
        )
    min_score = raw.get("min_score")
    description = raw.get("description", "")
    if not isinstance(description, str) or len(description) > 300:
        raise ValueError(f"{where}.description must be text of at most 300 characters")
    return PriorityRule(
        name=name,
        priority=int(priority),
        due_hours=_number(raw["due_hours"], f"{where}.due_hours", low=0.01, high=24 * 366),
        sources=sources,
        labels=_strings(raw.get("labels", ()), f"{where}.labels"),
        child_in_danger=_optional_bool(raw.get("child_in_danger"), f"{where}.child_in_danger"),
        escalated=_optional_bool(raw.get("escalated"), f"{where}.escalated"),
        min_score=None
        if min_score is None
        else _number(min_score, f"{where}.min_score", low=0, high=1),
        score_weight=_number(
            raw.get("score_weight", 0), f"{where}.score_weight", low=0, high=MAX_PRIORITY
        ),
        description=description,
    )


def parse_rules(raw: Sequence[Mapping[str, Any]]) -> tuple[PriorityRule, ...]:
    """A whole rule set; an empty list means :data:`DEFAULT_RULES`. Names must be unique."""
    if not raw:
        return DEFAULT_RULES
    rules = tuple(parse_rule(item, i) for i, item in enumerate(raw))
    names = [r.name for r in rules]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"case_priority_rules: rule name(s) used twice: {', '.join(repeated)}")
    return rules


def describe(rules: Sequence[PriorityRule]) -> list[dict[str, Any]]:
    """The rules as plain data (for docs, ``config show`` and the API)."""
    out = []
    for r in rules:
        item: dict[str, Any] = {"name": r.name, "priority": r.priority, "due_hours": r.due_hours}
        if r.sources:
            item["sources"] = sorted(r.sources)
        if r.labels:
            item["labels"] = sorted(r.labels)
        for name in ("child_in_danger", "escalated", "min_score"):
            if getattr(r, name) is not None:
                item[name] = getattr(r, name)
        if r.score_weight:
            item["score_weight"] = r.score_weight
        if r.description:
            item["description"] = r.description
        out.append(item)
    return out
