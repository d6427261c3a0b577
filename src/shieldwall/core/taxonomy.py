"""The categories people report and reviewers decide with, as data.

Two vocabularies, used everywhere (user reports, case decisions, bank labels, reports):

* :class:`ReportCategory` — what a person reporting content can choose. Kept short and
  plain-worded, as a reporting form shows it.
* :class:`DecisionLabel` — what a reviewer records on a ``violating`` decision. For imagery,
  the Technology Coalition's industry classification (2022), which NCMEC's reporting API uses
  as ``industryClassification``; for everything else, the non-image categories below.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ReportCategory(StrEnum):
    CHILD_SEXUAL_EXPLOITATION = "child_sexual_exploitation"
    GROOMING = "grooming"
    SEXTORTION = "sextortion"
    NON_CONSENSUAL_IMAGERY = "non_consensual_imagery"
    OTHER = "other"


class DecisionLabel(StrEnum):
    # Technology Coalition industry classification (imagery of minors).
    A1 = "A1"
    A2 = "A2"
    B1 = "B1"
    B2 = "B2"
    # Non-image categories.
    GROOMING = "grooming"
    SOLICITATION = "solicitation"
    SEXTORTION = "sextortion"
    NON_CONSENSUAL_IMAGERY = "non_consensual_imagery"
    OTHER_CSEA = "other_csea"


#: The industry classification codes (imagery), in order of severity.
INDUSTRY_CLASSIFICATION: tuple[DecisionLabel, ...] = (
    DecisionLabel.A1,
    DecisionLabel.A2,
    DecisionLabel.B1,
    DecisionLabel.B2,
)


@dataclass(frozen=True)
class Term:
    code: str
    title: str
    definition: str
    principles: tuple[int, ...]


REPORT_CATEGORIES: dict[ReportCategory, Term] = {
    ReportCategory.CHILD_SEXUAL_EXPLOITATION: Term(
        "child_sexual_exploitation",
        "Sexual exploitation of a child",
        "Content that sexually exploits a child, including child sexual abuse material.",
        (1, 2, 8),
    ),
    ReportCategory.GROOMING: Term(
        "grooming",
        "Grooming",
        "An adult building trust with a child in order to abuse or exploit them: contact, "
        "secrecy, gifts, moving the conversation elsewhere, asking for images or a meeting.",
        (3, 8),
    ),
    ReportCategory.SEXTORTION: Term(
        "sextortion",
        "Sextortion",
        "Threatening to share intimate images of someone unless they pay or send more.",
        (3, 8),
    ),
    ReportCategory.NON_CONSENSUAL_IMAGERY: Term(
        "non_consensual_imagery",
        "Intimate imagery shared without consent",
        "Intimate images of a person shared or threatened to be shared without their consent.",
        (8,),
    ),
    ReportCategory.OTHER: Term(
        "other",
        "Something else",
        "Anything else that puts a child at risk; describe it in the free text.",
        (8,),
    ),
}

DECISION_LABELS: dict[DecisionLabel, Term] = {
    DecisionLabel.A1: Term("A1", "A1", "Prepubescent minor, sex act.", (1, 2)),
    DecisionLabel.A2: Term("A2", "A2", "Prepubescent minor, lascivious exhibition.", (1, 2)),
    DecisionLabel.B1: Term("B1", "B1", "Pubescent minor, sex act.", (1, 2)),
    DecisionLabel.B2: Term("B2", "B2", "Pubescent minor, lascivious exhibition.", (1, 2)),
    DecisionLabel.GROOMING: Term(
        "grooming", "Grooming", "Grooming or preparatory behaviour towards a child.", (3,)
    ),
    DecisionLabel.SOLICITATION: Term(
        "solicitation",
        "Solicitation or advertising",
        "Advertising, soliciting or procuring a child or abuse material.",
        (4,),
    ),
    DecisionLabel.SEXTORTION: Term(
        "sextortion", "Sextortion", "Threats to share intimate images of a child.", (3,)
    ),
    DecisionLabel.NON_CONSENSUAL_IMAGERY: Term(
        "non_consensual_imagery",
        "Non-consensual intimate imagery",
        "Intimate imagery shared without consent (adults; StopNCII's scope).",
        (8,),
    ),
    DecisionLabel.OTHER_CSEA: Term(
        "other_csea",
        "Other child sexual exploitation",
        "Other content or conduct that sexually exploits a child.",
        (1, 8),
    ),
}


def parse_report_category(value: str) -> ReportCategory:
    """The category named ``value``; ``ValueError`` lists the known ones."""
    try:
        return ReportCategory(value)
    except ValueError:
        known = ", ".join(c.value for c in ReportCategory)
        raise ValueError(f"unknown category {value!r}; known: {known}") from None


def parse_decision_label(value: str) -> DecisionLabel:
    """The decision label named ``value``; ``ValueError`` lists the known ones."""
    try:
        return DecisionLabel(value)
    except ValueError:
        known = ", ".join(c.value for c in DecisionLabel)
        raise ValueError(f"unknown label {value!r}; known: {known}") from None
