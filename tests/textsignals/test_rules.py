"""Grooming indicator rules as data, scoring, deterrence messages and the contact policy."""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from shieldwall.textsignals import contact, deterrence
from shieldwall.textsignals.rules import (
    PAIR_INDICATOR,
    IndicatorHit,
    WindowMessage,
    default_rules,
    load_rules,
)
from shieldwall.textsignals.schemas import ContactCheckIn

ROOT = Path(__file__).resolve().parents[2]
EVAL = ROOT / "benchmarks" / "data" / "text_eval_messages.jsonl"


def shipped() -> dict[str, Any]:
    raw = resources.files("shieldwall.textsignals").joinpath("data/grooming_rules.json")
    data: dict[str, Any] = json.loads(raw.read_text("utf-8"))
    return data


def test_every_pattern_can_be_reached_through_one_of_its_keywords() -> None:
    for rule in shipped()["indicators"]:
        for pattern in rule["patterns"]:
            words = set(re.findall(r"[a-z0-9]+", pattern.replace("\\b", "")))
            assert words & set(rule["keywords"]), (rule["id"], pattern)


def test_the_evaluation_set_covers_every_indicator_in_both_languages() -> None:
    rows = [json.loads(line) for line in EVAL.read_text("utf-8").splitlines()]
    ids = default_rules().indicator_ids
    for lang in ("en", "fr"):
        covered = {i for r in rows if r["lang"] == lang for i in r["indicators"]}
        assert covered == set(ids), lang
    # and every indicator is found in most of its examples (recall is reported in full in
    # docs/benchmarks.md by benchmarks/text_eval.py)
    rules = default_rules()
    for indicator in ids:
        examples = [r for r in rows if indicator in r["indicators"]]
        found = sum(
            1 for r in examples if indicator in {h.indicator for h in rules.detect(r["text"])}
        )
        assert found / len(examples) >= 0.75, indicator
    negatives = [r for r in rows if not r["indicators"]]
    assert all(rules.detect(r["text"]) == [] for r in negatives)


def msg(ref: str, sender: str, *indicators: str) -> WindowMessage:
    return WindowMessage(ref, sender, [IndicatorHit(i, 0, 1) for i in indicators])


def test_scoring_counts_each_indicator_once_and_adds_combinations_and_the_pair() -> None:
    rules = default_rules()
    weights = rules.weights
    window = [
        msg("1", "a", "appearance_compliment"),
        msg("2", "a", "appearance_compliment", "age_question"),
        msg("3", "a", "sexual_talk"),
    ]
    scored = rules.score(window)
    combo = shipped()["combinations"][0]["weight"]
    expected = weights["appearance_compliment"] + weights["age_question"] + weights["sexual_talk"]
    assert scored.score == pytest.approx(expected + combo)
    assert "escalation" in scored.ids
    # the other order is no escalation
    assert "escalation" not in rules.score(list(reversed(window))).ids
    paired = rules.score(window, pair_known=True)
    assert PAIR_INDICATOR in paired.ids
    assert paired.score == pytest.approx(scored.score + shipped()["pair_weight"])


def test_term_list_hits_add_a_weight_by_severity() -> None:
    rules = default_rules()
    window = [WindowMessage("1", "a", [], [("solicitation", "high"), ("solicitation", "low")])]
    scored = rules.score(window)
    assert scored.ids == ["list_solicitation"]
    assert scored.score == pytest.approx(shipped()["term_list_weights"]["high"])


def test_one_benign_message_cannot_reach_the_threshold_alone() -> None:
    rules = default_rules()
    assert rules.score([msg("1", "a", "age_question")]).over_threshold is False


def test_a_rules_file_replaces_the_shipped_rules(tmp_path: Path) -> None:
    data = shipped()
    data["version"] = "test-2"
    data["indicators"] = [
        {"id": "zorb_request", "weight": 2.0, "keywords": ["zorb"], "patterns": ["\\bzorb me\\b"]}
    ]
    data["combinations"] = []
    path = tmp_path / "rules.json"
    path.write_text(json.dumps(data))
    rules = load_rules(path)
    assert rules.version == "test-2"
    assert [h.indicator for h in rules.detect("please Z O R B me")] == ["zorb_request"]
    assert rules.score([msg("1", "a", "zorb_request")]).over_threshold


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        (
            {"indicators": [{"id": "x", "weight": 1, "keywords": ["a"], "patterns": ["(a+)+"]}]},
            "nested",
        ),
        ({"threshold": -1}, "threshold"),
        (
            {"combinations": [{"id": "c", "weight": 1, "first": "nope", "then": "age_question"}]},
            "unknown",
        ),
        ({"surprise": True}, "surprise"),
    ],
)
def test_bad_rules_files_are_refused_with_a_reason(
    tmp_path: Path, change: dict[str, Any], needle: str
) -> None:
    data = {**shipped(), **change}
    path = tmp_path / "rules.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match=needle):
        load_rules(path)
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(ValueError, match=r"broken\.json"):
        load_rules(tmp_path / "broken.json")


def test_deterrence_messages_fall_back_and_can_be_added(tmp_path: Path) -> None:
    assert deterrence.message_for("fr-BE", folder=None).locale == "fr"
    assert deterrence.message_for("xx", folder=None).locale == "en"
    assert deterrence.message_for("xx", folder=None, default="fr").locale == "fr"
    for msg_ in deterrence.catalogue(None).values():
        assert msg_.resources  # help is always offered
    (tmp_path / "de.json").write_text(
        json.dumps(
            {
                "locale": "de",
                "title": "Achtung",
                "body": "Hilfe gibt es.",
                "resources": [
                    {
                        "name": "Kein Täter werden",
                        "description": "Hilfe",
                        "url": "https://example.org",
                    }
                ],
            }
        ),
        encoding="utf-8",
    )
    assert deterrence.message_for("de-AT", folder=tmp_path).title == "Achtung"
    other = tmp_path / "other"  # files are read once per process and folder
    other.mkdir()
    (other / "bad.json").write_text("{}")
    with pytest.raises(ValueError, match=r"bad\.json"):
        deterrence.catalogue(other)


def test_a_configured_contact_policy_replaces_the_default() -> None:
    policy = contact.parse_policy(
        [
            {"name": "no_contact_minors", "target": ["minor"], "decision": "block"},
            {"name": "rest", "decision": "allow"},
        ]
    )
    body = ContactCheckIn.model_validate(
        {
            "initiator": {"declared_age": 14},
            "target": {"declared_age": 15},
            "relationship": "connected",
        }
    )
    assert contact.decide(body, policy).rule == "no_contact_minors"
    with pytest.raises(ValueError, match="rule 1"):
        contact.parse_policy([{"name": "x", "decision": "maybe"}])
    with pytest.raises(ValueError, match="age class"):
        contact.parse_policy([{"name": "x", "initiator": ["teen"], "decision": "allow"}])


def test_a_bad_contact_policy_setting_is_refused_when_settings_load() -> None:
    from pydantic import ValidationError

    from shieldwall.config import Settings

    with pytest.raises(ValidationError, match="contact_policy rule 1"):
        Settings(contact_policy=[{"name": "x", "decision": "maybe"}])
