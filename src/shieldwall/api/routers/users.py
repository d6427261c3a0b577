from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, status

from shieldwall.api.deps import DbSession, require
from shieldwall.core.access import Principal, Scope
from shieldwall.users import repository, service
from shieldwall.users.schemas import UserCreate, UserOut, UserUpdate

router = APIRouter(prefix="/v1/users", tags=["users"])
Admin = Annotated[Principal, require(Scope.USERS_MANAGE)]
UserId = Annotated[int, Path(ge=1, le=2**31 - 1)]


@router.get("", summary="List people")
def list_users(db: DbSession, _: Admin) -> list[UserOut]:
    return [UserOut.model_validate(u) for u in repository.list_users(db)]


@router.post("", status_code=status.HTTP_201_CREATED, summary="Create a person")
def create_user(body: UserCreate, db: DbSession, actor: Admin) -> UserOut:
    return UserOut.model_validate(service.create_user(db, body, actor=actor))


@router.get("/{user_id}", summary="One person")
def get_user(user_id: UserId, db: DbSession, _: Admin) -> UserOut:
    return UserOut.model_validate(service.get_user(db, user_id))


@router.patch("/{user_id}", summary="Change role, name, password; deactivate; unlock")
def update_user(user_id: UserId, body: UserUpdate, db: DbSession, actor: Admin) -> UserOut:
    return UserOut.model_validate(service.update_user(db, user_id, body, actor=actor))
