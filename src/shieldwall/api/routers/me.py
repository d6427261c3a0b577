from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from shieldwall.api.deps import CurrentPrincipal

router = APIRouter(prefix="/v1", tags=["identity"])


class WhoAmI(BaseModel):
    actor: str
    kind: str
    name: str
    role: str | None
    scopes: list[str]


@router.get("/me", summary="Who the presented API key acts as, and its effective scopes")
def whoami(principal: CurrentPrincipal) -> WhoAmI:
    return WhoAmI(
        actor=principal.actor,
        kind=principal.kind.value,
        name=principal.name,
        role=principal.role.value if principal.role else None,
        scopes=sorted(s.value for s in principal.scopes),
    )
