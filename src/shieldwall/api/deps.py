"""Dependencies every route shares: settings, the database session, the caller."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from shieldwall.apikeys import service as apikeys
from shieldwall.config import Settings
from shieldwall.core.access import Principal, Scope
from shieldwall.core.errors import AuthenticationRequired, PermissionDenied
from shieldwall.db.engine import Database

# Cheap dependencies are ``async``: FastAPI runs a plain ``def`` dependency in its thread
# pool, and each hop costs more than the work itself.


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_database(request: Request) -> Database:
    database: Database = request.app.state.db
    return database


def get_db(request: Request) -> Iterator[Session]:
    """One session per request: committed when the route returns, rolled back when it
    raises. Runs before the response is sent, so a failed commit is the caller's error."""
    session = get_database(request).sessionmaker()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


SettingsDep = Annotated[Settings, Depends(get_settings)]
DbSession = Annotated[Session, Depends(get_db, scope="function")]


def _presented_key(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth:
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthenticationRequired("the Authorization header must be 'Bearer <api key>'")
        return token.strip()
    key = request.headers.get("x-api-key", "").strip()
    return key or None


def current_principal(request: Request, db: DbSession, settings: SettingsDep) -> Principal:
    """The caller, from ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``."""
    key = _presented_key(request)
    if key is None:
        raise AuthenticationRequired(
            "this endpoint needs an API key: send 'Authorization: Bearer <key>'; "
            "admins create keys with `shieldwall apikey create` or on /admin/api-keys"
        )
    principal = apikeys.authenticate(db, key, touch_seconds=settings.api_key_touch_seconds)
    request.state.actor = principal.actor
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require(scope: Scope) -> Any:
    """A dependency that admits only callers holding ``scope``.

    The scope is recorded on the dependency (``required_scope``) so a test can check that
    every route declares one.
    """

    async def check(principal: CurrentPrincipal) -> Principal:
        if not principal.can(scope):
            raise PermissionDenied(
                f"this action needs the '{scope.value}' scope, which {principal.actor} "
                "does not hold",
                required_scope=scope.value,
            )
        return principal

    check.required_scope = scope  # type: ignore[attr-defined]
    check.__name__ = f"require_{scope.name.lower()}"
    return Depends(check)


def required_scope_of(dependency: Callable[..., Any]) -> Scope | None:
    return getattr(dependency, "required_scope", None)
