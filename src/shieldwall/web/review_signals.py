"""What a case page shows of each signal beyond its summary: a user report's own words and
what a survivor chose to share, read only through the intake service (each read is logged
there as ``user_report.viewed`` / ``takedown_request.viewed``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from shieldwall.cases.schemas import CaseOut, CaseSource
from shieldwall.config import Settings
from shieldwall.core.access import Principal
from shieldwall.core.errors import ShieldwallError
from shieldwall.core.taxonomy import REPORT_CATEGORIES, ReportCategory
from shieldwall.intake import service as intake
from shieldwall.intake import takedowns

#: Most reports and requests whose words one page view shows (each view is logged).
MAX_WORDS_SHOWN = 20


def _summary_id(summary: dict[str, Any], key: str) -> int | None:
    value = summary.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


Reader = Callable[[Session, Settings, int, Principal], dict[str, Any]]


def signal_extras(
    session: Session, settings: Settings, detail: CaseOut, viewer: Principal
) -> dict[int, dict[str, Any]]:
    """What the intake service lets a reviewer see of user reports (their words) and survivor
    requests (only what the requester chose to share), keyed by signal id. Each read writes
    the intake service's own ``*.viewed`` event. A record that cannot be read (a missing
    master key) is shown as such; the rest of the page still works."""
    out: dict[int, dict[str, Any]] = {}
    shown = 0
    for signal in detail.signals:
        if signal.source is CaseSource.USER_REPORT:
            record_id = _summary_id(signal.summary, "report_id")
            read: Reader = _report
        elif signal.source is CaseSource.SURVIVOR_REQUEST:
            record_id = _summary_id(signal.summary, "takedown_request_id")
            read = _takedown
        else:
            continue
        if record_id is None:
            continue
        if shown >= MAX_WORDS_SHOWN:
            out[signal.id] = _note(f"Not shown: a page shows the first {MAX_WORDS_SHOWN}.")
            continue
        shown += 1
        try:
            out[signal.id] = read(session, settings, record_id, viewer)
        except ShieldwallError as exc:
            out[signal.id] = _note(f"Cannot be shown: {exc.message}")
    return out


def _note(text: str) -> dict[str, Any]:
    return {"facts": [], "text": None, "note": text}


def _report(
    session: Session, settings: Settings, record_id: int, viewer: Principal
) -> dict[str, Any]:
    report = intake.report_for_review(session, settings, record_id, actor=viewer)
    facts = [
        ("Report", f"#{report.id}"),
        ("Category", _category(report.category.value)),
        ("Reporter", f"pseudonym {report.reporter}"),
    ]
    for name, value in (
        ("Content id", report.content_id),
        ("URL (not a link)", report.url),
        ("Account", report.account_id),
        ("Conversation", report.conversation_id),
    ):
        if value:
            facts.append((name, value))
    if report.hashes:
        facts.append(("Hashes sent", _hash_counts(report.hashes)))
    return {
        "facts": facts,
        "text": report.text or None,
        "note": None if report.text else "The reporter wrote nothing.",
    }


def _takedown(
    session: Session, settings: Settings, record_id: int, viewer: Principal
) -> dict[str, Any]:
    req = takedowns.takedown_for_review(session, settings, record_id, actor=viewer)
    facts = [
        ("Request", f"#{req.id} ({req.status.value.replace('_', ' ')})"),
        ("Hashes", _hash_counts(req.hashes)),
        ("Sent by", "a helper acting for the survivor" if req.on_behalf else "the survivor"),
    ]
    if req.category is not None:
        facts.append(("Category", _category(req.category.value)))
    if req.contact:
        facts.append(("Contact (shared by the requester)", req.contact))
    if req.in_place_since:
        facts.append(("In place since", req.in_place_since.strftime("%Y-%m-%d %H:%M UTC")))
    return {
        "facts": facts,
        "text": req.message,
        "note": "Only what the requester chose to share is shown; the image never left "
        "their device.",
    }


def _category(code: str) -> str:
    try:
        return REPORT_CATEGORIES[ReportCategory(code)].title
    except ValueError:
        return code


def _hash_counts(hashes: list[dict[str, Any]]) -> str:
    counts: dict[str, int] = {}
    for item in hashes:
        kind = str(item.get("signal_type", "?"))
        counts[kind] = counts.get(kind, 0) + 1
    return ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items()))
