"""The review pages: the queue, one case, and the forms that decide, confirm and assign.

Everything goes through ``cases.service`` (and the intake service for what reporters and
survivors wrote); no SQL here. Every POST carries CSRF. Media are handled in
:mod:`shieldwall.web.review_media`; viewing preferences in :mod:`shieldwall.web.preferences`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from shieldwall.api.deps import DbSession
from shieldwall.cases import service as cases
from shieldwall.cases.repository import MAX_CASE_ID
from shieldwall.cases.schemas import (
    MAX_NOTE,
    CaseOut,
    CaseSource,
    CaseStatus,
    DecisionOut,
    DecisionState,
    Outcome,
)
from shieldwall.config import Settings
from shieldwall.core.access import Scope
from shieldwall.core.errors import InvalidInput, ShieldwallError
from shieldwall.core.taxonomy import DECISION_LABELS, INDUSTRY_CLASSIFICATION, Term
from shieldwall.db.base import utcnow
from shieldwall.web import reports as report_pages
from shieldwall.web.render import form_error, render, see_other, templates
from shieldwall.web.review_media import NO_STORE, media_views
from shieldwall.web.review_signals import signal_extras
from shieldwall.web.security import CsrfChecked, WebUser, page_requires, rotate_csrf

router = APIRouter(include_in_schema=False)
CaseReader = Annotated[WebUser, page_requires(Scope.CASES_READ)]
CaseWriter = Annotated[WebUser, page_requires(Scope.CASES_WRITE)]
#: A path's case id, bounded to the column: a larger number is refused before any SQL.
CaseId = Annotated[int, Path(ge=1, le=MAX_CASE_ID)]
PAGE_SIZE = 50
ACTIVE = (CaseStatus.OPEN, CaseStatus.IN_REVIEW, CaseStatus.ESCALATED)


# ---- template filters ------------------------------------------------------------------------


def _time(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else ""


def _seconds(value: float | None) -> str:
    if value is None:
        return "—"
    seconds = int(value)
    if seconds < 90:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 90:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


def _age(value: datetime | None, now: datetime) -> str:
    if value is None:
        return ""
    return _seconds(max(0.0, (now - value).total_seconds()))


templates.env.filters.setdefault("review_time", _time)
templates.env.filters.setdefault("review_seconds", _seconds)
templates.env.filters.setdefault("review_age", _age)


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


# ---- the queue -------------------------------------------------------------------------------


def _queue_filters(status: str, source: str, assignee: str) -> dict[str, str]:
    known_status = {s.value for s in CaseStatus} | {"active", "all"}
    return {
        "status": status if status in known_status else "active",
        "source": source if source in {s.value for s in CaseSource} else "",
        "assignee": assignee[:64],
    }


@router.get("/review")
def queue_page(
    request: Request,
    db: DbSession,
    user: CaseReader,
    status: str = "active",
    source: str = "",
    assignee: str = "",
    offset: int = 0,
) -> Response:
    filters = _queue_filters(status, source, assignee)
    offset = max(0, offset)
    if filters["status"] == "active":
        statuses: list[CaseStatus] | None = list(ACTIVE)
    elif filters["status"] == "all":
        statuses = None
    else:
        statuses = [CaseStatus(filters["status"])]
    error = None
    try:
        nobody = filters["assignee"] == "none"
        page = cases.queue(
            db,
            statuses=statuses,
            source=filters["source"] or None,
            assignee=None if nobody else (filters["assignee"] or None),
            unassigned=nobody,
            viewer=user.principal,
            limit=PAGE_SIZE,
            offset=offset,
        )
    except ShieldwallError as exc:
        error = exc.message
        page = cases.queue(db, statuses=statuses, limit=PAGE_SIZE, offset=0)

    def filter_url(**changes: Any) -> str:
        params = {**filters, "offset": 0, **changes}
        return "/review?" + urlencode({k: v for k, v in params.items() if v not in ("", 0)})

    response = render(
        request,
        "review/queue.html",
        {
            "page": page,
            "counts": cases.status_counts(db),
            "filters": filters,
            "filter_url": filter_url,
            "statuses": list(CaseStatus),
            "sources": list(CaseSource),
            "reviewers": cases.reviewers(db),
            "offset": offset,
            "limit": PAGE_SIZE,
            "now": utcnow(),
            "error": error,
            "notice": request.query_params.get("done") and _done(request.query_params["done"]),
        },
    )
    response.headers.update(NO_STORE)
    return response


def _done(code: str) -> str | None:
    return {
        "decided": "Decision recorded.",
        "awaiting": "Decision recorded; it waits for a second reviewer to confirm it.",
        "confirmed": "Decision confirmed.",
        "disagreed": "You disagreed; the case is escalated.",
        "escalated": "Case escalated.",
        "closed": "Case closed.",
    }.get(code)


# ---- one case --------------------------------------------------------------------------------


def actor_namer(session: Session, detail: CaseOut) -> Callable[[str], str]:
    """``user:3`` -> ``rita``; other actors (API keys, the system) as they are."""
    ids: set[int] = set()
    refs = [s.actor for s in detail.signals] + [t.actor for t in detail.timeline]
    for d in detail.decisions:
        refs += [d.decided_by, d.confirmed_by or ""]
    for ref in refs:
        kind, _, number = ref.partition(":")
        if kind == "user" and number.isdigit():
            ids.add(int(number))
    names = cases.usernames(session, sorted(ids))

    def name(ref: str) -> str:
        kind, _, number = ref.partition(":")
        if kind == "user" and number.isdigit() and int(number) in names:
            return names[int(number)]
        return ref

    return name


def _labels() -> tuple[list[Term], list[Term]]:
    image = [DECISION_LABELS[code] for code in INDUSTRY_CLASSIFICATION]
    other = [t for code, t in DECISION_LABELS.items() if code not in INDUSTRY_CLASSIFICATION]
    return image, other


def _case_page(
    request: Request,
    db: Session,
    user: WebUser,
    case_id: int,
    *,
    error: str | None = None,
    notice: str | None = None,
    form: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    settings = _settings(request)
    detail = cases.get_case_detail(db, settings, case_id, viewer=user.principal)
    prefs = cases.preferences_for(db, user.user_id)
    actor_name = actor_namer(db, detail)
    awaiting: DecisionOut | None = next(
        (d for d in detail.decisions if d.state is DecisionState.AWAITING_CONFIRMATION), None
    )
    me = user.principal.actor
    can_write = user.can(Scope.CASES_WRITE)
    original = None
    viewer_decided_original = False
    if detail.appeal_of_case_id:
        original = cases.get_case_detail(db, settings, detail.appeal_of_case_id)
        viewer_decided_original = any(
            me in (d.decided_by, d.confirmed_by)
            for d in original.decisions
            if d.state is DecisionState.FINAL
        )
    decide_blocked = None
    if not can_write:
        decide_blocked = f"Your role ({user.role}) can read cases but not decide them."
    elif detail.status not in ACTIVE:
        decide_blocked = f"This case is {detail.status.value.replace('_', ' ')}."
    elif viewer_decided_original:
        decide_blocked = "You decided the case this appeal is about; another reviewer decides it."
    image_labels, other_labels = _labels()
    response = render(
        request,
        "review/case.html",
        {
            "case": detail,
            "media": media_views(
                request, db, case_id, cases.media_ids(db, case_id), blur=prefs.blur
            ),
            "prefs": prefs,
            "extra": signal_extras(db, settings, detail, user.principal),
            "actor_name": actor_name,
            "actions": action_rows(detail),
            "awaiting": awaiting,
            "user_is_decider": awaiting is not None and awaiting.decided_by == me,
            "can_confirm": (
                awaiting is not None
                and can_write
                and awaiting.decided_by != me
                and not viewer_decided_original
            ),
            "can_close": can_write and detail.status is CaseStatus.DECIDED,
            "can_write": can_write,
            "can_decide": decide_blocked is None,
            "decide_blocked": decide_blocked,
            "original": original,
            "viewer_decided_original": viewer_decided_original,
            "image_labels": image_labels,
            "other_labels": other_labels,
            "two_person_labels": sorted(settings.case_two_person_labels),
            "max_note": MAX_NOTE,
            "next_case_id": cases.next_in_queue(db, after_case_id=case_id),
            "reporting": report_pages.case_panel(db, settings, case_id, user),
            "form": form or {},
            "error": error,
            "notice": notice,
        },
        status=status,
    )
    # The page carries reveal links bound to this session, and what people reported.
    response.headers.update(NO_STORE)
    return response


def action_rows(detail: CaseOut) -> list[dict[str, Any]]:
    rows = []
    for a in detail.actions:
        delivery = a.get("delivery") or {}
        rows.append(
            {
                "type": a.get("type"),
                "subject_kind": a.get("subject_kind"),
                "subject_ref": a.get("subject_ref"),
                "requested_at": a.get("requested_at"),
                "delivery": delivery.get("state", "not_sent"),
                "attempts": delivery.get("attempts", 0),
                "last_error": delivery.get("last_error"),
            }
        )
    return rows


def _refused(
    request: Request,
    db: Session,
    user: WebUser,
    case_id: int,
    exc: ShieldwallError | ValidationError,
    form: dict[str, str] | None = None,
) -> Response:
    """The case page again with why a form was refused (nothing of it was written)."""
    db.rollback()
    status = exc.status if isinstance(exc, ShieldwallError) else 422
    try:
        return _case_page(
            request, db, user, case_id, error=form_error(exc), form=form, status=status
        )
    except ShieldwallError as again:  # e.g. no such case
        return render(request, "error.html", {"message": again.message}, status=again.status)


@router.get("/review/cases/{case_id}")
def case_page(request: Request, db: DbSession, user: CaseReader, case_id: CaseId) -> Response:
    try:
        return _case_page(
            request, db, user, case_id, notice=_done(request.query_params.get("done", ""))
        )
    except ShieldwallError as exc:
        db.rollback()
        return render(request, "error.html", {"message": exc.message}, status=exc.status)


@router.post("/review/cases/{case_id}/decision", dependencies=[CsrfChecked])
def case_decide(
    request: Request,
    db: DbSession,
    user: CaseWriter,
    case_id: CaseId,
    outcome: Annotated[str, Form(max_length=20)] = "",
    label: Annotated[str, Form(max_length=40)] = "",
    note: Annotated[str, Form()] = "",  # the body limit bounds it; longer: told why
) -> Response:
    form = {"outcome": outcome, "label": label, "note": note[:MAX_NOTE]}
    try:
        try:
            chosen = Outcome(outcome)
        except ValueError:
            raise InvalidInput(
                "choose an outcome: violating, not violating or escalate", field="outcome"
            ) from None
        if len(note) > MAX_NOTE:
            raise InvalidInput(f"the note is longer than {MAX_NOTE} characters ({len(note)})")
        result = cases.decide(
            db,
            _settings(request),
            case_id,
            outcome=chosen,
            label=label or None,
            note=note,
            actor=user.principal,
        )
    except (ValidationError, ShieldwallError) as exc:
        return _refused(request, db, user, case_id, exc, form)
    rotate_csrf(request)  # a re-sent form is refused rather than deciding twice
    done = "escalated" if chosen is Outcome.ESCALATE else "decided"
    if cases.is_awaiting_confirmation(result):
        done = "awaiting"
    return see_other(request, f"/review/cases/{case_id}?done={done}")


@router.post("/review/cases/{case_id}/confirm", dependencies=[CsrfChecked])
def case_confirm(
    request: Request,
    db: DbSession,
    user: CaseWriter,
    case_id: CaseId,
    agree: Annotated[str, Form(max_length=10)] = "true",
    note: Annotated[str, Form()] = "",  # the body limit bounds it; longer: told why
) -> Response:
    agreed = agree.lower() in ("true", "1", "yes", "on")
    try:
        if len(note) > MAX_NOTE:
            raise InvalidInput(f"the note is longer than {MAX_NOTE} characters ({len(note)})")
        cases.confirm(
            db, _settings(request), case_id, agree=agreed, note=note, actor=user.principal
        )
    except ShieldwallError as exc:
        return _refused(request, db, user, case_id, exc)
    rotate_csrf(request)
    return see_other(
        request, f"/review/cases/{case_id}?done={'confirmed' if agreed else 'disagreed'}"
    )


@router.post("/review/cases/{case_id}/assign", dependencies=[CsrfChecked])
def case_assign(request: Request, db: DbSession, user: CaseWriter, case_id: CaseId) -> Response:
    try:
        cases.assign(db, _settings(request), case_id, username=None, actor=user.principal)
    except ShieldwallError as exc:
        return _refused(request, db, user, case_id, exc)
    return see_other(request, f"/review/cases/{case_id}")


@router.post("/review/cases/{case_id}/close", dependencies=[CsrfChecked])
def case_close(request: Request, db: DbSession, user: CaseWriter, case_id: CaseId) -> Response:
    """A decided case with nothing left to do leaves the reviewers' lists."""
    try:
        cases.close(db, case_id, actor=user.principal)
    except ShieldwallError as exc:
        return _refused(request, db, user, case_id, exc)
    rotate_csrf(request)
    return see_other(request, f"/review/cases/{case_id}?done=closed")
