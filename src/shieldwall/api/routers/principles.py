from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from shieldwall.core.errors import NotFound
from shieldwall.core.principles import PRINCIPLES, SOURCE_URL, get_principle

router = APIRouter(prefix="/v1/principles", tags=["principles"])


class PrincipleOut(BaseModel):
    number: int
    theme: str
    short_name: str
    wording: str
    wording_verified: bool
    source: str


def _out(number: int) -> PrincipleOut:
    p = get_principle(number)
    return PrincipleOut(
        number=p.number,
        theme=p.theme,
        short_name=p.short_name,
        wording=p.wording,
        wording_verified=p.wording_verified,
        source=SOURCE_URL,
    )


@router.get("", summary="The 11 Voluntary Principles (public)")
def list_principles() -> list[PrincipleOut]:
    return [_out(p.number) for p in PRINCIPLES]


@router.get("/{number}", summary="One Voluntary Principle (public)")
def one_principle(number: int) -> PrincipleOut:
    try:
        return _out(number)
    except KeyError:
        raise NotFound(f"there is no principle {number}; they are numbered 1-11") from None
