"""Appeals (principle 8): a platform contests an action taken because of a case decision.

An appeal is its own case (source ``appeal``, ``appeal_of_case_id`` set) on the same subject,
with its own active key ``appeal:<original id>``: one active appeal per decided case, apart
from any new case about the same subject. Whoever decided or confirmed the original may not
decide the appeal. Its outcome ``not_violating`` upholds it (content is restored, the hashes
the original decision added leave the bank); ``violating`` lets the decision stand. See
:mod:`shieldwall.cases.effects`.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy.orm import Session

from shieldwall.actions import repository as actions_repository
from shieldwall.actions import service as actions_service
from shieldwall.cases import repository
from shieldwall.cases.models import Case
from shieldwall.cases.schemas import CaseSource, CaseStatus, Outcome, SignalIn, Subject, clean_ref
from shieldwall.cases.service import (
    DEFAULT_PRINCIPLES,
    add_signal,
    get_case,
    open_case,
    serialise,
)
from shieldwall.config import Settings
from shieldwall.core.access import Principal
from shieldwall.core.errors import Conflict, InvalidInput, NotFound
from shieldwall.core.principles import validate_principles

_REASON = re.compile(r"^[A-Za-z0-9_.:-]{0,40}$")


def _appealed_case(
    session: Session, *, action_id: int | None, action_key: str | None, case_id: int | None
) -> tuple[Case, Any]:
    named = [v for v in (action_id, action_key, case_id) if v is not None]
    if len(named) != 1:
        raise InvalidInput("name exactly one of action_id, action_key or case_id")
    action = None
    if case_id is None:
        if action_id is not None:
            action = actions_service.get_action(session, action_id)
        else:
            key = clean_ref(str(action_key), field_name="action_key", required=True)
            action = actions_repository.get_by_key(session, str(key))
            if action is None:
                raise NotFound("no action with that key", field="action_key")
        if action.case_id is None:
            raise Conflict(
                f"action {action.id} was not asked for by a case decision; there is no "
                "decision to appeal",
                action_id=action.id,
            )
        case_id = int(action.case_id)
    original = get_case(session, case_id, for_update=True)
    return original, action


def open_appeal(
    session: Session,
    settings: Settings,
    *,
    action_id: int | None = None,
    action_key: str | None = None,
    case_id: int | None = None,
    appeal_ref: str | None = None,
    reason: str = "",
    actor: Principal | str,
) -> tuple[Case, bool]:
    """Open (or join) the appeal of a decided case, named by the appealed action (id or
    key) or by the case. Returns (appeal case, created).

    One active appeal per original case: a repeat joins it (the same ``appeal_ref`` twice
    adds nothing). The appeal case is a separate case (source ``appeal``) that whoever took
    part in the original decision may not decide. Raises :class:`Conflict` when the case
    has no violating decision, is itself an appeal, or its appeal was already decided.
    """
    ref = clean_ref(appeal_ref, field_name="appeal_ref")
    why = (reason or "").strip()
    if not _REASON.fullmatch(why):
        raise InvalidInput(
            "reason is a short code: up to 40 letters, digits, '_', '.', ':' or '-'",
            field="reason",
        )
    serialise(session)
    original, action = _appealed_case(
        session, action_id=action_id, action_key=action_key, case_id=case_id
    )
    if original.appeal_of_case_id is not None:
        raise Conflict(
            f"case {original.id} is itself an appeal; its decision is final",
            case_id=original.id,
        )
    if (
        original.status not in (CaseStatus.DECIDED, CaseStatus.CLOSED)
        or original.outcome != Outcome.VIOLATING
    ):
        raise Conflict(
            f"case {original.id} has no violating decision to appeal (status {original.status})",
            case_id=original.id,
        )
    for earlier in repository.appeals_of(session, original.id):
        if earlier.status in (CaseStatus.DECIDED, CaseStatus.CLOSED):
            raise Conflict(
                f"the appeal of case {original.id} was already decided (case {earlier.id})",
                case_id=original.id,
                appeal_case_id=earlier.id,
            )
    active_key = f"appeal:{original.id}"
    case = repository.active_case(session, active_key, for_update=True)
    created = False
    if case is None:
        subject = Subject(original.subject_kind, original.subject_ref, original.account_ref)
        case, created = open_case(
            session, subject=subject, active_key=active_key, appeal_of=original.id
        )
    signal_ref = (
        f"appeal:{ref}"
        if ref
        else (f"action:{action.id}" if action is not None else f"case:{original.id}")
    )
    if not created and repository.signal_with_ref(session, case.id, signal_ref) is not None:
        return case, False
    summary: dict[str, Any] = {"appeal_of_case_id": original.id}
    if action is not None:
        summary["action_id"] = action.id
    if why:
        summary["reason"] = why
    signal = SignalIn(
        source=CaseSource.APPEAL,
        principles=original.principles or DEFAULT_PRINCIPLES[CaseSource.APPEAL],
        summary=summary,
        labels=[original.label] if original.label else [],
        ref=signal_ref,
    )
    add_signal(
        session,
        settings,
        case,
        source=CaseSource.APPEAL,
        principles=validate_principles(tuple(signal.principles)),
        hashes=[],
        ref=signal_ref,
        signal=signal,
        actor=actor,
        created=created,
        extra={"appeal_of_case_id": original.id},
    )
    return case, created
