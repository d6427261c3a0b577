from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from shieldwall.api.deps import DbSession, require
from shieldwall.apikeys import repository, service
from shieldwall.apikeys.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyOut
from shieldwall.core.access import Principal, Scope

router = APIRouter(prefix="/v1/api-keys", tags=["api keys"])
KeyAdmin = Annotated[Principal, require(Scope.APIKEYS_MANAGE)]
KeyId = Annotated[int, Path(ge=1, le=2**31 - 1)]


@router.get("", summary="List API keys (never their secrets)")
def list_keys(
    db: DbSession, _: KeyAdmin, include_revoked: Annotated[bool, Query()] = True
) -> list[ApiKeyOut]:
    keys = repository.list_keys(db, include_revoked=include_revoked)
    return [ApiKeyOut.model_validate(k) for k in keys]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Create an API key; the answer holds the key, shown this once",
)
def create_key(body: ApiKeyCreate, db: DbSession, actor: KeyAdmin) -> ApiKeyCreated:
    key, plain = service.create_key(db, body, actor=actor)
    return ApiKeyCreated.model_validate(
        {**ApiKeyOut.model_validate(key).model_dump(), "key": plain}
    )


@router.post("/{key_id}/revoke", summary="Revoke an API key; it stops working at once")
def revoke_key(key_id: KeyId, db: DbSession, actor: KeyAdmin) -> ApiKeyOut:
    return ApiKeyOut.model_validate(service.revoke_key(db, key_id, actor=actor))
