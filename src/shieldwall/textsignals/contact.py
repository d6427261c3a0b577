"""Child-contact safety checks (principle 7): a policy as data, first matching rule wins.

Each participant's age information becomes a class: ``minor`` (declared under 18, or an
estimated band under 18 — an estimate of a minor wins over a declared adult age, the safer
reading), ``adult`` (declared 18 or over, or estimated 18+), or ``unknown``.

A rule names ``initiator`` and ``target`` classes, ``relationship``\\s and ``action``\\s
(each a list; empty or absent means any), and the ``decision`` (``allow``, ``warn``,
``require_consent``, ``block``). The shipped policy (:data:`DEFAULT_POLICY`):

1. an adult or unknown-age account may not message, friend or follow a minor it is not
   connected to (``block``), and needs the minor's consent when they only follow each other;
2. an adult may not view a minor's profile unless connected (minors' profiles are private
   by default: ``block``);
3. unknown-age → minor otherwise needs consent; adult → minor while connected is allowed
   with a warning shown to the minor;
4. minor → adult contact with no connection warns the minor;
5. everything else is allowed.

The ``contact_policy`` setting replaces the list.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shieldwall.textsignals.schemas import (
    AgeBand,
    AgeInfo,
    ContactAction,
    ContactCheckIn,
    ContactCheckOut,
    ContactDecision,
    Relationship,
)

MINOR_BANDS = frozenset({AgeBand.UNDER_13, AgeBand.AGE_13_15, AgeBand.AGE_16_17})
CLASSES = ("adult", "minor", "unknown")


class ContactRule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,59}$")
    initiator: list[str] = Field(default_factory=list)
    target: list[str] = Field(default_factory=list)
    relationship: list[Relationship] = Field(default_factory=list)
    action: list[ContactAction] = Field(default_factory=list)
    decision: ContactDecision
    reason: str = ""

    def model_post_init(self, _context: Any) -> None:
        for value in (*self.initiator, *self.target):
            if value not in CLASSES:
                raise ValueError(f"rule {self.name}: unknown age class {value!r}; use {CLASSES}")


_PRIVATE_CONTACT = [ContactAction.MESSAGE, ContactAction.FRIEND_REQUEST, ContactAction.FOLLOW]

DEFAULT_POLICY: tuple[ContactRule, ...] = (
    ContactRule(
        name="adult_to_unconnected_minor",
        initiator=["adult", "unknown"],
        target=["minor"],
        relationship=[Relationship.NONE],
        action=_PRIVATE_CONTACT,
        decision=ContactDecision.BLOCK,
        reason="adults cannot start contact with minors they are not connected to",
    ),
    ContactRule(
        name="minor_profile_private",
        initiator=["adult", "unknown"],
        target=["minor"],
        relationship=[Relationship.NONE, Relationship.MUTUAL_FOLLOWS],
        action=[ContactAction.VIEW_PROFILE],
        decision=ContactDecision.BLOCK,
        reason="minors' profiles are private by default",
    ),
    ContactRule(
        name="adult_to_followed_minor",
        initiator=["adult", "unknown"],
        target=["minor"],
        relationship=[Relationship.MUTUAL_FOLLOWS],
        decision=ContactDecision.REQUIRE_CONSENT,
        reason="the minor must accept contact from an adult they only follow",
    ),
    ContactRule(
        name="unknown_to_connected_minor",
        initiator=["unknown"],
        target=["minor"],
        decision=ContactDecision.REQUIRE_CONSENT,
        reason="the initiator's age is unknown",
    ),
    ContactRule(
        name="adult_to_connected_minor",
        initiator=["adult"],
        target=["minor"],
        decision=ContactDecision.WARN,
        reason="an adult contacting a minor: show the minor safety advice",
    ),
    ContactRule(
        name="minor_to_unconnected_adult",
        initiator=["minor"],
        target=["adult", "unknown"],
        relationship=[Relationship.NONE],
        action=_PRIVATE_CONTACT,
        decision=ContactDecision.WARN,
        reason="a minor contacting an adult they are not connected to: show safety advice",
    ),
    ContactRule(name="default_allow", decision=ContactDecision.ALLOW, reason="no rule applies"),
)


def age_class(info: AgeInfo) -> str:
    band = info.estimated_band
    if band in MINOR_BANDS or (info.declared_age is not None and info.declared_age < 18):
        return "minor"
    if band is AgeBand.ADULT or (info.declared_age is not None and info.declared_age >= 18):
        return "adult"
    return "unknown"


def parse_policy(raw: Sequence[dict[str, Any]]) -> tuple[ContactRule, ...]:
    """The configured rules, or the default for an empty list; ``ValueError`` naming a bad one."""
    if not raw:
        return DEFAULT_POLICY
    rules = []
    for i, item in enumerate(raw):
        try:
            rules.append(ContactRule.model_validate(item))
        except (ValidationError, ValueError) as exc:
            raise ValueError(f"contact_policy rule {i + 1}: {exc}") from None
    return tuple(rules)


@dataclass(frozen=True)
class _Facts:
    initiator: str
    target: str
    relationship: Relationship
    action: ContactAction


def _matches(rule: ContactRule, facts: _Facts) -> bool:
    return (
        (not rule.initiator or facts.initiator in rule.initiator)
        and (not rule.target or facts.target in rule.target)
        and (not rule.relationship or facts.relationship in rule.relationship)
        and (not rule.action or facts.action in rule.action)
    )


def decide(body: ContactCheckIn, policy: Sequence[ContactRule]) -> ContactCheckOut:
    facts = _Facts(
        age_class(body.initiator), age_class(body.target), body.relationship, body.action
    )
    for rule in policy:
        if _matches(rule, facts):
            return ContactCheckOut(
                decision=rule.decision,
                rule=rule.name,
                reason=rule.reason,
                initiator_class=facts.initiator,
                target_class=facts.target,
            )
    return ContactCheckOut(
        decision=ContactDecision.ALLOW,
        rule="none",
        reason="no rule applies",
        initiator_class=facts.initiator,
        target_class=facts.target,
    )
