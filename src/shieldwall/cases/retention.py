"""Media that cases still need: kept past its retention date until the case is closed.

Registered with :func:`shieldwall.media.service.register_retainer`, so the media purge never
takes away what a reviewer has yet to look at (a case left open longer than
``media_retention_days``).
"""

from __future__ import annotations

from sqlalchemy import select, union
from sqlalchemy.orm import Session

from shieldwall.cases.models import Case, CaseSignal
from shieldwall.cases.schemas import CaseStatus
from shieldwall.media.service import register_retainer


def media_of_unclosed_cases(session: Session) -> set[int]:
    """Media ids held by a case, or one of its signals, whose case is not closed."""
    unclosed = Case.status != CaseStatus.CLOSED.value
    held = union(
        select(Case.media_id).where(unclosed, Case.media_id.is_not(None)),
        select(CaseSignal.media_id)
        .join(Case, Case.id == CaseSignal.case_id)
        .where(unclosed, CaseSignal.media_id.is_not(None)),
    )
    return {int(media_id) for (media_id,) in session.execute(held) if media_id is not None}


register_retainer(media_of_unclosed_cases)
