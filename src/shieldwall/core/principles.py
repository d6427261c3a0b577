"""The eleven Voluntary Principles to Counter Online Child Sexual Exploitation and Abuse.

Published by the Five Country Ministerial (Australia, Canada, New Zealand, the United Kingdom
and the United States) on 5 March 2020. Wording from the UK government's accessible overview
(:data:`SOURCE_URL`); ``wording_verified`` is False for principles 8-11, whose text is the
published wording as widely quoted but was not checked word for word against that page.

Every event shieldwall records names the principle(s) it serves, so the transparency report
can count per principle.
"""

from __future__ import annotations

from dataclasses import dataclass

SOURCE_URL = (
    "https://www.gov.uk/government/publications/voluntary-principles-to-counter-online-child-"
    "sexual-exploitation-and-abuse/voluntary-principles-to-counter-online-child-sexual-"
    "exploitation-and-abuse-overview"
)
PUBLISHED = "2020-03-05"


@dataclass(frozen=True, slots=True)
class Principle:
    number: int
    theme: str
    short_name: str
    wording: str
    wording_verified: bool

    @property
    def source(self) -> str:
        return SOURCE_URL


PRINCIPLES: tuple[Principle, ...] = (
    Principle(
        number=1,
        theme="Prevent child sexual abuse material",
        short_name="Known CSAM",
        wording=(
            "Companies seek to prevent known child sexual abuse material from being made available to users or accessible on their platforms and services, take appropriate action under their terms of service, and report to appropriate authorities."
        ),
        wording_verified=True,
    ),
    Principle(
        number=2,
        theme="Prevent child sexual abuse material",
        short_name="New CSAM",
        wording=(
            "Companies seek to identify and combat the dissemination of new child sexual abuse material via their platforms and services, take appropriate action under their terms of service, and report to appropriate authorities."
        ),
        wording_verified=True,
    ),
    Principle(
        number=3,
        theme="Target online grooming and preparatory behaviour",
        short_name="Grooming and preparatory behaviour",
        wording=(
            "Companies seek to identify and combat preparatory child sexual exploitation and abuse activity (such as online grooming for child sexual abuse), take appropriate action under their terms of service, and report to appropriate authorities."
        ),
        wording_verified=True,
    ),
    Principle(
        number=4,
        theme="Target online grooming and preparatory behaviour",
        short_name="Advertising, soliciting or procuring a child",
        wording=(
            "Companies seek to identify and combat advertising, recruiting, soliciting, or procuring a child for sexual exploitation or abuse, or organising to do so, take appropriate action under their terms of service, and report to appropriate authorities."
        ),
        wording_verified=True,
    ),
    Principle(
        number=5,
        theme="Target livestreaming",
        short_name="Livestreaming",
        wording=(
            "Companies seek to identify and combat the use of livestreaming services for the purpose of child sexual exploitation and abuse, take appropriate action under their terms of service, and report to appropriate authorities."
        ),
        wording_verified=True,
    ),
    Principle(
        number=6,
        theme="Prevent searches of child sexual abuse material from surfacing",
        short_name="Search and suggestions",
        wording=(
            "Companies seek to prevent search results from surfacing child sexual exploitation and abuse, and seek to prevent automatic suggestions for such activity and material."
        ),
        wording_verified=True,
    ),
    Principle(
        number=7,
        theme="A specialised approach for children",
        short_name="Enhanced safety for children",
        wording=(
            "Companies seek to adopt enhanced safety measures with the aim of protecting children, in particular from peers or adults seeking to engage in harmful sexual activity with children; such measures may include considering whether users are children."
        ),
        wording_verified=True,
    ),
    Principle(
        number=8,
        theme="Victim/survivor consideration",
        short_name="Reporting options and in-context material",
        wording=(
            "Companies seek to take appropriate action, including providing reporting options, on material that may not be illegal on its face, but with appropriate context and confirmation may be connected to child sexual exploitation and abuse."
        ),
        wording_verified=False,
    ),
    Principle(
        number=9,
        theme="Collaborate and respond to evolving threat",
        short_name="Informed global approach",
        wording=(
            "Companies seek to take an informed global approach to combating online child sexual exploitation and abuse and to take into account the evolving threat landscape as part of their design and development processes."
        ),
        wording_verified=False,
    ),
    Principle(
        number=10,
        theme="Collaborate and respond to evolving threat",
        short_name="Share expertise, data and tools",
        wording=(
            "Companies support opportunities to share relevant expertise, helpful practices, data and tools where appropriate and feasible."
        ),
        wording_verified=False,
    ),
    Principle(
        number=11,
        theme="Collaborate and respond to evolving threat",
        short_name="Transparency",
        wording=(
            "Companies seek to regularly publish or share meaningful data and insights on their efforts to combat child sexual exploitation and abuse."
        ),
        wording_verified=False,
    ),
)

_BY_NUMBER = {p.number: p for p in PRINCIPLES}


def get_principle(number: int) -> Principle:
    """The principle with this number (1-11); raises ``KeyError`` otherwise."""
    return _BY_NUMBER[number]


def validate_principles(numbers: list[int] | tuple[int, ...]) -> tuple[int, ...]:
    """Sorted, de-duplicated principle numbers; ``ValueError`` names any outside 1-11."""
    bad = [n for n in numbers if n not in _BY_NUMBER]
    if bad:
        raise ValueError(f"unknown principle number(s) {bad}; principles are numbered 1-11")
    return tuple(sorted(set(numbers)))
