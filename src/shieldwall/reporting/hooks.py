"""Queue a report when a case is decided violating with a label that calls for one.

Registered for every case source through :func:`shieldwall.cases.service.
register_decision_hook` (listed in ``cases.service.HOOK_MODULES``, so a decision from the
API, the web or the CLI runs it). It runs in the deciding transaction: the report is
queued with the decision or not at all.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from shieldwall.cases.models import Case
from shieldwall.cases.schemas import CaseSource
from shieldwall.cases.service import register_decision_hook
from shieldwall.config import Settings
from shieldwall.core.access import Principal
from shieldwall.reporting import service


def queue_report(session: Session, settings: Settings, case: Case, actor: Principal) -> None:
    if service.calls_for_report(settings, case):
        service.queue_for_case(session, settings, case, actor=actor)


for _source in CaseSource:
    register_decision_hook(_source, queue_report)
