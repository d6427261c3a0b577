"""Preserve evidence when a case is decided violating.

Registered for every case source through :func:`shieldwall.cases.service.
register_decision_hook` (listed in ``cases.service.HOOK_MODULES``, so a decision from the
API, the web or the CLI runs it), in the deciding transaction: the evidence is kept with
the decision or not at all. An appeal's decision preserves nothing new (the original case
already did).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from shieldwall.cases import queries
from shieldwall.cases.models import Case
from shieldwall.cases.schemas import CaseSource, Outcome
from shieldwall.cases.service import register_decision_hook
from shieldwall.config import Settings
from shieldwall.core.access import Principal
from shieldwall.evidence import service


def media_of(session: Session, case: Case) -> list[int]:
    """The media a case holds: its signals' media in arrival order, then the case's own."""
    found = queries.media_ids(session, case.id)
    if case.media_id is not None and case.media_id not in found:
        found.append(case.media_id)
    return found


def preserve_decided(session: Session, settings: Settings, case: Case, actor: Principal) -> None:
    if case.outcome != Outcome.VIOLATING or case.appeal_of_case_id is not None:
        return
    data = {"trigger": "decision", "outcome": case.outcome, "label": case.label}
    held: list[int | None] = list(media_of(session, case))
    for media_id in held or [None]:
        service.preserve(
            session, settings, case_id=case.id, media_id=media_id, data=data, actor=actor
        )


for _source in CaseSource:
    register_decision_hook(_source, preserve_decided)
