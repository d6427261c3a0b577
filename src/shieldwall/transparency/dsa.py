"""EU Digital Services Act: a statement of reasons (Article 17, Article 24(5)) for each
restricting moderation decision of a period, in the shape the DSA Transparency Database API
accepts (``POST /api/v1/statements`` takes ``{"statements": [...]}``, up to 100 at a time).

Built from the event log only: ``case.decided`` (violating, not an appeal) in the period,
the case's ``case.opened`` (where the signal came from) and its ``action.requested`` events
(what the platform was asked to do). The mapping and its gaps are in docs/transparency.md;
nothing here names a user, a reviewer or the content, and ``url`` is never filled.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy.orm import Session

from shieldwall.transparency.metrics import DETECTION_SOURCES, EventLog, EventRow, case_id
from shieldwall.transparency.periods import Period
from shieldwall.transparency.service import load_log

KINDS = ("case.decided", "case.opened", "action.requested")
#: The European Economic Area, the default territorial scope of a decision.
EEA = (
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE",
    "IS", "IT", "LI", "LT", "LU", "LV", "MT", "NL", "NO", "PL", "PT", "RO", "SE", "SI", "SK",
)  # fmt: skip
AUTOMATED_SOURCES = frozenset(DETECTION_SOURCES)
NOTICE_SOURCES = {"user_report", "survivor_request"}
TEXT_SOURCES = {"grooming", "solicitation", "url_match"}
LEGAL_GROUND = (
    "Directive 2011/93/EU on combating the sexual abuse and sexual exploitation of children "
    "and child pornography, as transposed in national law"
)
BATCH = 100


def _keywords(source: str) -> list[str]:
    if source == "grooming":
        return ["KEYWORD_GROOMING_SEXUAL_ENTICEMENT_MINORS"]
    return ["KEYWORD_CHILD_SEXUAL_ABUSE_MATERIAL"]


def statement(
    decided: EventRow, opened: EventRow | None, actions: list[EventRow], prefix: str
) -> dict[str, Any]:
    """One statement of reasons for one final violating decision."""
    cid = case_id(decided)
    source = str(opened.payload.get("source", "")) if opened is not None else ""
    types = {str(a.payload.get("type")) for a in actions}
    label = decided.payload.get("label") or "violating"
    out: dict[str, Any] = {
        "puid": f"{prefix}-decision-{decided.payload.get('decision_id')}",
        "decision_ground": "DECISION_GROUND_ILLEGAL_CONTENT",
        "illegal_content_legal_ground": LEGAL_GROUND,
        "illegal_content_explanation": (
            f"A reviewer found the content to be child sexual exploitation or abuse material "
            f"(label {label}) under the platform's policy."
        ),
        "category": "STATEMENT_CATEGORY_PROTECTION_OF_MINORS",
        "category_specification": _keywords(source),
        "content_type": ["CONTENT_TYPE_TEXT"] if source in TEXT_SOURCES else ["CONTENT_TYPE_OTHER"],
        "content_date": (opened or decided).occurred_at.date().isoformat(),
        "application_date": decided.occurred_at.date().isoformat(),
        "territorial_scope": list(EEA),
        "decision_facts": (
            f"Case {cid} was opened from a {source.replace('_', ' ') or 'signal'} and "
            f"decided violating ({label}) by a person."
            + (" A second reviewer confirmed it." if decided.payload.get("confirmed") else "")
        ),
        "source_type": "SOURCE_ARTICLE_16" if source in NOTICE_SOURCES else "SOURCE_VOLUNTARY",
        "automated_detection": "Yes" if source in AUTOMATED_SOURCES else "No",
        "automated_decision": "AUTOMATED_DECISION_NOT_AUTOMATED",
    }
    if out["content_type"] == ["CONTENT_TYPE_OTHER"]:
        out["content_type_other"] = "image or video (the event log does not say which)"
    visibility = []
    if "content.remove" in types:
        visibility.append("DECISION_VISIBILITY_CONTENT_REMOVED")
    if "content.block" in types:
        visibility.append("DECISION_VISIBILITY_CONTENT_DISABLED")
    if visibility:
        out["decision_visibility"] = visibility
    if "account.suspend" in types:
        out["decision_account"] = "DECISION_ACCOUNT_SUSPENDED"
    return out


def restricts(item: dict[str, Any]) -> bool:
    """The API needs at least one restriction; a decision that asked the platform for
    nothing (a survivor's request, whose hook banks hashes; an account or conversation with
    no action configured) has no statement."""
    return "decision_visibility" in item or "decision_account" in item


def statements(
    log: EventLog, period: Period, *, prefix: str = "shieldwall"
) -> list[dict[str, Any]]:
    opened: dict[int, EventRow] = {}
    for row in log.of("case.opened"):
        if (cid := case_id(row)) is not None:
            opened.setdefault(cid, row)
    actions: dict[int, list[EventRow]] = defaultdict(list)
    for row in log.of("action.requested"):
        cid = row.payload.get("case_id")
        if isinstance(cid, int):
            actions[cid].append(row)
    out = []
    for row in log.within(period, "case.decided"):
        cid = case_id(row)
        if cid is None or row.payload.get("outcome") != "violating":
            continue
        if row.payload.get("appeal_of_case_id") is not None:
            continue  # an appeal that confirms a decision restricts nothing new
        out.append(statement(row, opened.get(cid), actions.get(cid, []), prefix))
    return out


def export(session: Session, period: Period) -> dict[str, Any]:
    """``{"statements": [...], "batches": n, ...}``: the statements of the period; send them
    to the DSA Transparency Database in batches of 100 (``statements[i:i+100]``)."""
    log = load_log(session, period.until, KINDS)
    every = statements(log, period)
    found = [s for s in every if restricts(s)]
    return {
        "format": "DSA Transparency Database API, POST /api/v1/statements",
        "period": period.as_json(),
        "count": len(found),
        "without_restriction": len(every) - len(found),
        "batch_size": BATCH,
        "statements": found,
    }
