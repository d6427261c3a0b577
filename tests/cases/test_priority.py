"""Priority rules: pure evaluation, configuration and its errors."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from shieldwall.cases.priority import (
    DEFAULT_RULES,
    FALLBACK_DUE_HOURS,
    CaseFacts,
    describe,
    evaluate,
    parse_rules,
)
from shieldwall.config import Settings


def facts(**values: Any) -> CaseFacts:
    for key in ("sources", "labels"):
        values[key] = frozenset(values.get(key, ()))
    return CaseFacts(**values)


@pytest.mark.parametrize(
    ("case", "rule", "priority"),
    [
        (facts(sources={"user_report"}, child_in_danger=True), "child_in_danger", 1000),
        (facts(sources={"hash_match"}, labels={"A1", "B2"}), "bank_match_a1", 900),
        (facts(sources={"hash_match"}, labels={"B2"}), "bank_match_classified", 850),
        (facts(sources={"grooming"}), "grooming", 800),
        (facts(sources={"classifier"}, top_score=0.9, escalated=True), "escalated", 750),
        (facts(sources={"url_match"}), "url_match", 600),
        (facts(sources={"solicitation"}), "solicitation", 500),
        (facts(sources={"survivor_request"}), "survivor_request", 700),
        (facts(sources={"hash_match"}), "bank_match", 600),
        (facts(sources={"user_report"}, labels={"grooming"}), "serious_user_report", 500),
        (facts(sources={"classifier"}, top_score=1.0), "classifier", 500),
        (facts(sources={"classifier"}, top_score=0.2), "classifier", 260),
        (facts(sources={"appeal"}), "appeal", 400),
        (facts(sources={"user_report"}, labels={"other"}), "user_report", 300),
        (facts(), "default", 100),
    ],
)
def test_default_rules(case: CaseFacts, rule: str, priority: int) -> None:
    result = evaluate(case)
    assert (result.rule, result.priority) == (rule, priority)


def test_the_issue_examples_hold() -> None:
    a1 = evaluate(facts(sources={"hash_match"}, labels={"A1"})).priority
    low_classifier = evaluate(facts(sources={"classifier"}, top_score=0.3)).priority
    danger = evaluate(facts(sources={"user_report"}, child_in_danger=True)).priority
    assert danger > a1 > low_classifier


def test_the_highest_matching_rule_wins_and_ties_take_the_shorter_due_time() -> None:
    rules = parse_rules(
        [
            {"name": "slow", "priority": 500, "due_hours": 48},
            {"name": "fast", "priority": 500, "due_hours": 2, "labels": ["A1"]},
            {
                "name": "scored",
                "priority": 100,
                "due_hours": 10,
                "score_weight": 1000,
                "min_score": 0.5,
            },
        ]
    )
    assert evaluate(facts(labels={"A1"}), rules).rule == "fast"
    assert evaluate(facts(labels={"B1"}), rules).rule == "slow"
    assert evaluate(facts(top_score=0.45), rules).rule == "slow"  # under min_score
    best = evaluate(facts(top_score=0.6), rules)
    assert (best.rule, best.priority, best.due_hours) == ("scored", 700, 10)


def test_no_matching_rule_gives_zero() -> None:
    rules = parse_rules([{"name": "only_a1", "priority": 9, "due_hours": 1, "labels": ["A1"]}])
    result = evaluate(facts(), rules)
    assert (result.priority, result.rule, result.due_hours) == (0, "none", FALLBACK_DUE_HOURS)


def test_empty_configuration_means_the_defaults() -> None:
    assert parse_rules([]) == DEFAULT_RULES
    described = describe(DEFAULT_RULES)
    assert described[0] == {
        "name": "child_in_danger",
        "priority": 1000,
        "due_hours": 1,
        "child_in_danger": True,
        "description": "A report says a child is in danger now.",
    }
    assert parse_rules(described) == DEFAULT_RULES  # round trip


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"priority": 1, "due_hours": 1}, "name must be"),
        ({"name": "Bad Name", "priority": 1, "due_hours": 1}, "name must be"),
        ({"name": "x", "due_hours": 1}, "priority is required"),
        ({"name": "x", "priority": 1}, "due_hours is required"),
        ({"name": "x", "priority": -1, "due_hours": 1}, "between 0 and 100000"),
        ({"name": "x", "priority": 1.5, "due_hours": 1}, "whole number"),
        ({"name": "x", "priority": 1, "due_hours": 0}, "due_hours must be between"),
        ({"name": "x", "priority": 1, "due_hours": 1, "sources": ["rumour"]}, "unknown source"),
        ({"name": "x", "priority": 1, "due_hours": 1, "sources": "hash_match"}, "list of"),
        ({"name": "x", "priority": 1, "due_hours": 1, "min_score": 2}, "min_score"),
        ({"name": "x", "priority": 1, "due_hours": 1, "escalated": "yes"}, "true, false"),
        ({"name": "x", "priority": 1, "due_hours": 1, "colour": "red"}, "unknown field"),
        ({"name": "x", "priority": True, "due_hours": 1}, "must be a number"),
    ],
)
def test_bad_rules_are_explained(rule: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_rules([rule])


def test_repeated_names_are_refused() -> None:
    rule = {"name": "x", "priority": 1, "due_hours": 1}
    with pytest.raises(ValueError, match="used twice: x"):
        parse_rules([rule, rule])


def test_settings_check_rules_and_labels(tmp_path: Any) -> None:
    with pytest.raises(ValidationError, match="unknown source"):
        Settings(
            data_dir=tmp_path,
            case_priority_rules=[
                {"name": "x", "priority": 1, "due_hours": 1, "sources": ["rumour"]}
            ],
        )
    with pytest.raises(ValidationError, match="unknown label 'C9'; known: A1"):
        Settings(data_dir=tmp_path, case_two_person_labels=["C9"])
    settings = Settings(data_dir=tmp_path, case_suspend_labels=[" A1", "A1", "grooming"])
    assert settings.case_suspend_labels == ["A1", "grooming"]
