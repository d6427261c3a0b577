"""The outcome metrics, as data: an id, the exact definition printed beside the number, the
principles it shows, the event kinds it reads and the function computing it from the event
log. Pure: no database; :mod:`shieldwall.transparency.service` loads the events.

A metric computes a :class:`Tally`: the raw number, a breakdown, how many items it rests on
and the ids of the events behind it (``shieldwall transparency explain``). Suppressing small
counts is the report's job, not the metric's.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from shieldwall.transparency.periods import Period

Key = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class EventRow:
    """The parts of an event a metric may read (never the actor: it can name a person)."""

    id: int
    occurred_at: datetime
    kind: str
    subject: str
    payload: Mapping[str, Any]


class EventLog:
    """Events loaded for a report, grouped by kind, oldest first."""

    def __init__(self, rows: Iterable[EventRow]) -> None:
        self._by_kind: dict[str, list[EventRow]] = defaultdict(list)
        for row in rows:
            at = row.occurred_at
            if at.tzinfo is None:
                row = EventRow(row.id, at.replace(tzinfo=UTC), row.kind, row.subject, row.payload)
            self._by_kind[row.kind].append(row)
        for rows_of_kind in self._by_kind.values():
            rows_of_kind.sort(key=lambda r: r.id)

    def of(self, *kinds: str) -> list[EventRow]:
        out = [r for k in kinds for r in self._by_kind.get(k, ())]
        if len(kinds) > 1:
            out.sort(key=lambda r: r.id)
        return out

    def within(self, period: Period, *kinds: str) -> Iterator[EventRow]:
        return (r for r in self.of(*kinds) if period.contains(r.occurred_at))


@dataclass(slots=True)
class Tally:
    value: float | None
    #: how many items the value rests on (a count: itself; a duration: how many pairs)
    samples: int
    breakdown: dict[Key, float] = field(default_factory=dict)
    events: list[int] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class MetricDef:
    id: str
    label: str
    definition: str
    principles: tuple[int, ...]
    kinds: tuple[str, ...]
    #: module whose presence means the capability exists (else: any event of ``kinds``)
    capability: str
    compute: Callable[[EventLog, Period], Tally]
    unit: str = "count"


# ---- building blocks ---------------------------------------------------------------------


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _str(value: Any, default: str = "(none)") -> str:
    return str(value) if value not in (None, "") else default


def case_id(row: EventRow) -> int | None:
    kind, _, ref = row.subject.partition(":")
    return int(ref) if kind == "case" and ref.isdigit() else None


def counting(
    *kinds: str,
    where: Callable[[EventRow], bool] | None = None,
    weight: Callable[[EventRow], int] | None = None,
    by: Callable[[EventRow], Sequence[tuple[Key, int]]] | None = None,
) -> Callable[[EventLog, Period], Tally]:
    """Sum ``weight`` (default 1) over the period's events of ``kinds`` that pass ``where``;
    ``by`` gives each event's breakdown cells and their weights."""

    def compute(log: EventLog, period: Period) -> Tally:
        total = 0
        cells: Counter[Key] = Counter()
        ids: list[int] = []
        for row in log.within(period, *kinds):
            if where is not None and not where(row):
                continue
            amount = weight(row) if weight is not None else 1
            total += amount
            ids.append(row.id)
            if by is not None:
                for key, n in by(row):
                    cells[key] += n
        return Tally(total, total, dict(cells), ids)

    return compute


def _one(**dims: str) -> Callable[[EventRow], Sequence[tuple[Key, int]]]:
    """Breakdown by payload fields: ``dim=payload_field``."""

    def by(row: EventRow) -> Sequence[tuple[Key, int]]:
        return [(tuple((d, _str(row.payload.get(f))) for d, f in dims.items()), 1)]

    return by


def median(values: Sequence[float]) -> float:
    """The middle value; the mean of the two middle values for an even count."""
    return float(statistics.median(values))


def p90(values: Sequence[float]) -> float:
    """Nearest rank: the smallest value that at least 90 % of the values do not exceed."""
    ordered = sorted(values)
    return float(ordered[math.ceil(0.9 * len(ordered)) - 1])


Pairs = Callable[[EventLog, Period], list[tuple[float, list[int]]]]


def timing(pairs: Pairs, stat: Callable[[Sequence[float]], float]) -> Callable[..., Tally]:
    def compute(log: EventLog, period: Period) -> Tally:
        found = pairs(log, period)
        seconds = [s for s, _ in found]
        value = round(stat(seconds), 1) if seconds else None
        return Tally(value, len(seconds), {}, sorted({i for _, ids in found for i in ids}))

    return compute


def _seconds(start: datetime, end: datetime) -> float:
    return max((end - start).total_seconds(), 0.0)


ACTION_TYPES = ("content.remove", "content.block", "account.suspend")
DETECTION_SOURCES = ("hash_match", "classifier", "grooming", "solicitation", "url_match")


def detection_to_action(log: EventLog, period: Period) -> list[tuple[float, list[int]]]:
    """(seconds, event ids) for each case opened by a detection whose first action on the
    platform was requested in the period."""
    opened = {
        cid: row
        for row in log.of("case.opened")
        if (cid := case_id(row)) is not None and row.payload.get("source") in DETECTION_SOURCES
    }
    first: dict[int, EventRow] = {}
    for row in log.of("action.requested"):
        cid = row.payload.get("case_id")
        if isinstance(cid, int) and cid in opened and row.payload.get("type") in ACTION_TYPES:
            first.setdefault(cid, row)
    return [
        (_seconds(opened[cid].occurred_at, act.occurred_at), [opened[cid].id, act.id])
        for cid, act in first.items()
        if period.contains(act.occurred_at)
    ]


def report_to_decision(log: EventLog, period: Period) -> list[tuple[float, list[int]]]:
    """(seconds, event ids) for each user report whose case was first decided, after the
    report arrived, within the period."""
    case_of: dict[str, int] = {}
    for row in log.of("case.opened", "case.signal_added"):
        ref, cid = row.payload.get("ref"), case_id(row)
        if isinstance(ref, str) and ref.startswith("user_report:") and cid is not None:
            case_of.setdefault(ref, cid)
    decisions: dict[int, list[EventRow]] = defaultdict(list)
    for row in log.of("case.decided"):
        if (cid := case_id(row)) is not None:
            decisions[cid].append(row)
    out: list[tuple[float, list[int]]] = []
    for report in log.of("user_report.received"):
        cid = case_of.get(f"user_report:{report.payload.get('report_id')}")
        if cid is None:
            continue
        later = [d for d in decisions.get(cid, ()) if d.occurred_at >= report.occurred_at]
        if later and period.contains(later[0].occurred_at):
            out.append(
                (_seconds(report.occurred_at, later[0].occurred_at), [report.id, later[0].id])
            )
    return out


def takedown_to_in_place(log: EventLog, period: Period) -> list[tuple[float, list[int]]]:
    """(seconds, event ids) for each survivor request approved (its hashes in place in the
    survivor bank) within the period."""
    received = {r.payload.get("request_id"): r for r in log.of("takedown_request.received")}
    out: list[tuple[float, list[int]]] = []
    for row in log.within(period, "takedown_request.approved"):
        start = received.get(row.payload.get("request_id"))
        if start is not None:
            out.append((_seconds(start.occurred_at, row.occurred_at), [start.id, row.id]))
    return out


def _scan_weight(row: EventRow) -> int:
    return _int(row.payload.get("scanned")) if row.kind == "scan.bulk_completed" else 1


def _scan_verdicts(row: EventRow) -> Sequence[tuple[Key, int]]:
    if row.kind == "scan.bulk_completed":
        verdicts = row.payload.get("verdicts") or {}
        return [((("verdict", str(v)),), _int(n)) for v, n in sorted(verdicts.items())]
    return [((("verdict", _str(row.payload.get("verdict"))),), 1)]


def _matched(row: EventRow) -> bool:
    if row.kind == "scan.bulk_completed":
        verdicts = row.payload.get("verdicts") or {}
        return any(_int(n) for v, n in verdicts.items() if v != "allow")
    return row.payload.get("verdict") in ("review", "block")


def _matched_weight(row: EventRow) -> int:
    if row.kind == "scan.bulk_completed":
        verdicts = row.payload.get("verdicts") or {}
        return sum(_int(n) for v, n in verdicts.items() if v != "allow")
    return 1


def _match_cells(row: EventRow) -> Sequence[tuple[Key, int]]:
    cells: list[tuple[Key, int]] = []
    for item in row.payload.get("match_keys") or ():
        n = _int(item.get("count")) or 1
        cells.append(((("bank", _str(item.get("bank"))),), n))
        cells.append(((("signal_type", _str(item.get("signal_type"))),), n))
        for label in item.get("labels") or ["(none)"]:
            cells.append(((("label", _str(label)),), n))
    return cells


def _search_cells(row: EventRow) -> Sequence[tuple[Key, int]]:
    return [((("decision", row.kind.removeprefix("search.")),), 1)]


def _is_ncmec(row: EventRow) -> bool:
    return row.payload.get("destination") == "ncmec"


def _type_in(*types: str) -> Callable[[EventRow], bool]:
    return lambda row: row.payload.get("type") in types


# ---- the metrics -------------------------------------------------------------------------

_TIME = "Computed over the pairs whose second event falls in the period; "
_MEDIAN = "the median (middle value; mean of the two middle values for an even count), in seconds."
_P90 = (
    "the 90th percentile by nearest rank (the smallest value that at least 90 % of the "
    "times do not exceed), in seconds."
)

METRICS: tuple[MetricDef, ...] = (
    MetricDef(
        "content_scanned",
        "Content scanned",
        "Pieces of media checked against the hash banks: one for each scan.completed event "
        "(uploads and API scans) plus the `scanned` count of each scan.bulk_completed event "
        "(back-scans of stored media). Broken down by verdict: allow (no match), review (a "
        "match that needs a person), block (a match the bank blocks).",
        (1,),
        ("scan.completed", "scan.bulk_completed"),
        "shieldwall.matching",
        counting("scan.completed", "scan.bulk_completed", weight=_scan_weight, by=_scan_verdicts),
    ),
    MetricDef(
        "content_matched",
        "Content matched",
        "Scanned media whose verdict was review or block, i.e. at least one bank match that "
        "no allow bank suppressed.",
        (1,),
        ("scan.completed", "scan.bulk_completed"),
        "shieldwall.matching",
        counting(
            "scan.completed",
            "scan.bulk_completed",
            where=_matched,
            weight=_matched_weight,
            by=_scan_verdicts,
        ),
    ),
    MetricDef(
        "bank_matches",
        "Matches by bank, signal type and label",
        "Bank entries matched by scans (the `matches` count of each scan.completed event). "
        "Broken down by bank, by signal type (pdq, md5, vpdq, ...) and by the matched "
        "entry's labels; a match with several labels counts under each of them.",
        (1,),
        ("scan.completed",),
        "shieldwall.matching",
        counting(
            "scan.completed", weight=lambda r: _int(r.payload.get("matches")), by=_match_cells
        ),
    ),
    MetricDef(
        "cases_opened",
        "Cases opened, by source",
        "Cases opened for review (case.opened events), by the source of the signal that "
        "opened them: hash_match, classifier, user_report, survivor_request, appeal, "
        "grooming, solicitation, url_match.",
        (1, 2, 3, 4, 8),
        ("case.opened",),
        "shieldwall.cases",
        counting("case.opened", by=_one(source="source")),
    ),
    MetricDef(
        "decisions",
        "Decisions, by outcome and label",
        "Final decisions on cases (case.decided events), by outcome (violating, "
        "not_violating) and the label of a violating decision. Proposals awaiting a second "
        "reviewer and escalations are not decisions.",
        (1, 2, 3, 4),
        ("case.decided",),
        "shieldwall.cases",
        counting("case.decided", by=_one(outcome="outcome", label="label")),
    ),
    MetricDef(
        "content_actioned",
        "Content actioned",
        "Requests to the platform to remove or block a piece of content after a violating "
        "decision (action.requested events of type content.remove or content.block). "
        "Uploads blocked at scan time are counted under content_scanned (verdict block).",
        (1, 2, 4),
        ("action.requested",),
        "shieldwall.actions",
        counting(
            "action.requested",
            where=_type_in("content.remove", "content.block"),
            by=_one(type="type"),
        ),
    ),
    MetricDef(
        "accounts_actioned",
        "Accounts actioned",
        "Requests to the platform to suspend an account after a violating decision "
        "(action.requested events of type account.suspend); one per decided case, so an "
        "account suspended from two cases counts twice.",
        (1, 2, 3, 4),
        ("action.requested",),
        "shieldwall.actions",
        counting("action.requested", where=_type_in("account.suspend")),
    ),
    MetricDef(
        "reports_sent_ncmec",
        "Reports sent to NCMEC",
        "CyberTipline reports that NCMEC accepted (report.sent events with destination "
        "ncmec). A report may cover several cases.",
        (1, 2, 9),
        ("report.sent",),
        "shieldwall.reporting",
        counting("report.sent", where=_is_ncmec),
    ),
    MetricDef(
        "reports_sent_other_hotlines",
        "Reports sent to other hotlines",
        "Reports delivered to hotlines other than NCMEC (report.sent events with another "
        "destination), by destination.",
        (1, 2, 9),
        ("report.sent",),
        "shieldwall.reporting",
        counting(
            "report.sent", where=lambda r: not _is_ncmec(r), by=_one(destination="destination")
        ),
    ),
    MetricDef(
        "report_files_sent",
        "Files in reports sent",
        "Files attached to the reports sent in the period (sum of the `files` count of "
        "report.sent events), by destination.",
        (1, 2, 9),
        ("report.sent",),
        "shieldwall.reporting",
        counting(
            "report.sent",
            weight=lambda r: _int(r.payload.get("files")),
            by=lambda r: [
                (
                    (("destination", _str(r.payload.get("destination"))),),
                    _int(r.payload.get("files")),
                )
            ],
        ),
    ),
    MetricDef(
        "user_reports_received",
        "User reports received",
        "Reports from users of the platform (user_report.received events), by category.",
        (8,),
        ("user_report.received",),
        "shieldwall.intake",
        counting("user_report.received", by=_one(category="category")),
    ),
    MetricDef(
        "takedown_requests_received",
        "Survivor takedown requests received",
        "Takedown requests from survivors or people acting for them, sent as hashes only "
        "(takedown_request.received events).",
        (8,),
        ("takedown_request.received",),
        "shieldwall.intake",
        counting("takedown_request.received"),
    ),
    MetricDef(
        "takedown_requests_approved",
        "Survivor takedown requests approved",
        "Takedown requests approved by a reviewer, their hashes added to the survivor bank "
        "(takedown_request.approved events).",
        (8,),
        ("takedown_request.approved",),
        "shieldwall.intake",
        counting("takedown_request.approved"),
    ),
    MetricDef(
        "takedown_requests_declined",
        "Survivor takedown requests declined",
        "Takedown requests a reviewer decided were not violating (takedown_request.declined).",
        (8,),
        ("takedown_request.declined",),
        "shieldwall.intake",
        counting("takedown_request.declined"),
    ),
    MetricDef(
        "takedown_time_to_in_place_median",
        "Median time from takedown request to block in place",
        "Time from a takedown_request.received event to the takedown_request.approved event "
        "of the same request (from then on matching uploads are blocked). " + _TIME + _MEDIAN,
        (8,),
        ("takedown_request.received", "takedown_request.approved"),
        "shieldwall.intake",
        timing(takedown_to_in_place, median),
        "seconds",
    ),
    MetricDef(
        "takedown_time_to_in_place_p90",
        "90th percentile time from takedown request to block in place",
        "Time from a takedown_request.received event to the takedown_request.approved event "
        "of the same request. " + _TIME + _P90,
        (8,),
        ("takedown_request.received", "takedown_request.approved"),
        "shieldwall.intake",
        timing(takedown_to_in_place, p90),
        "seconds",
    ),
    MetricDef(
        "appeals_received",
        "Appeals received",
        "Appeals against a decision: cases opened with source appeal (case.opened events).",
        (1, 2, 8),
        ("case.opened",),
        "shieldwall.cases",
        counting("case.opened", where=lambda r: r.payload.get("source") == "appeal"),
    ),
    MetricDef(
        "appeals_reversed",
        "Appeals upheld (decisions reversed)",
        "Original decisions reversed on appeal, their content restored and their hashes "
        "taken out of the banks (case.overturned events).",
        (1, 2, 8),
        ("case.overturned",),
        "shieldwall.cases",
        counting("case.overturned"),
    ),
    MetricDef(
        "time_detection_to_action_median",
        "Median time from detection to action",
        "Time from the case.opened event of a case opened by a detection (hash_match, "
        "classifier, grooming, solicitation, url_match) to the first action.requested event "
        "(content.remove, content.block or account.suspend) for that case. " + _TIME + _MEDIAN,
        (1, 2, 3, 4),
        ("case.opened", "action.requested"),
        "shieldwall.actions",
        timing(detection_to_action, median),
        "seconds",
    ),
    MetricDef(
        "time_detection_to_action_p90",
        "90th percentile time from detection to action",
        "Time from the case.opened event of a case opened by a detection to the first "
        "action.requested event for that case. " + _TIME + _P90,
        (1, 2, 3, 4),
        ("case.opened", "action.requested"),
        "shieldwall.actions",
        timing(detection_to_action, p90),
        "seconds",
    ),
    MetricDef(
        "time_user_report_to_decision_median",
        "Median time from user report to decision",
        "Time from a user_report.received event to the first case.decided event of the case "
        "the report went into (linked by the report's ref), decided after the report "
        "arrived. " + _TIME + _MEDIAN,
        (8,),
        ("user_report.received", "case.opened", "case.signal_added", "case.decided"),
        "shieldwall.intake",
        timing(report_to_decision, median),
        "seconds",
    ),
    MetricDef(
        "time_user_report_to_decision_p90",
        "90th percentile time from user report to decision",
        "Time from a user_report.received event to the first case.decided event of the case "
        "the report went into. " + _TIME + _P90,
        (8,),
        ("user_report.received", "case.opened", "case.signal_added", "case.decided"),
        "shieldwall.intake",
        timing(report_to_decision, p90),
        "seconds",
    ),
    MetricDef(
        "search_deterrence_shown",
        "Searches deterred",
        "Searches for child sexual abuse material answered with a deterrence message and "
        "help resources (search.warned and search.blocked events), by decision.",
        (6,),
        ("search.warned", "search.blocked"),
        "shieldwall.textsignals",
        counting("search.warned", "search.blocked", by=_search_cells),
    ),
    MetricDef(
        "search_suggestions_removed",
        "Search suggestions removed",
        "Autocomplete suggestions withheld because they seek abuse material (sum of the "
        "`removed` count of search.suggestions_removed events).",
        (6,),
        ("search.suggestions_removed",),
        "shieldwall.textsignals",
        counting("search.suggestions_removed", weight=lambda r: _int(r.payload.get("removed"))),
    ),
    MetricDef(
        "conversations_flagged",
        "Conversations flagged",
        "Conversations whose grooming score or listed URLs opened or added to a case "
        "(conversation.flagged events).",
        (3,),
        ("conversation.flagged",),
        "shieldwall.textsignals",
        counting("conversation.flagged"),
    ),
    MetricDef(
        "posts_flagged",
        "Posts and profiles flagged",
        "Posts and profiles matching solicitation or advertising terms (text.matched "
        "events), by decision.",
        (4,),
        ("text.matched",),
        "shieldwall.textsignals",
        counting("text.matched", by=_one(decision="decision")),
    ),
    MetricDef(
        "urls_blocked",
        "Links blocked",
        "Links to listed abuse material blocked (url.matched events).",
        (1, 4),
        ("url.matched",),
        "shieldwall.textsignals",
        counting("url.matched"),
    ),
    MetricDef(
        "contact_checks",
        "Contact checks",
        "Checks of adult-to-child contact against the contact policy (contact.decided "
        "events), by decision.",
        (7,),
        ("contact.decided",),
        "shieldwall.textsignals",
        counting("contact.decided", by=_one(decision="decision")),
    ),
    MetricDef(
        "hashes_received_from_exchanges",
        "Hashes received from exchanges",
        "Hashes added to banks from hash-sharing exchanges (sum of the `added` count of "
        "exchange.fetched events).",
        (10,),
        ("exchange.fetched",),
        "shieldwall.exchanges",
        counting("exchange.fetched", weight=lambda r: _int(r.payload.get("added"))),
    ),
    MetricDef(
        "hash_feeds_served",
        "Hash feeds served to partners",
        "Times a partner fetched a bank this deployment shares (exchange.feed_served events).",
        (10,),
        ("exchange.feed_served",),
        "shieldwall.exchanges",
        counting("exchange.feed_served"),
    ),
)

BY_ID: dict[str, MetricDef] = {m.id: m for m in METRICS}


def all_kinds() -> tuple[str, ...]:
    return tuple(sorted({k for m in METRICS for k in m.kinds}))
