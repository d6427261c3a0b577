from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from shieldwall.api.deps import DbSession, require
from shieldwall.core.access import Principal, Scope
from shieldwall.overview.service import Overview, overview

router = APIRouter(prefix="/v1/overview", tags=["overview"])


@router.get("", summary="Live counts shown on the home page")
def get_overview(db: DbSession, _: Annotated[Principal, require(Scope.REPORTS_READ)]) -> Overview:
    return overview(db)
