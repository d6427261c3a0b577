"""The web shell: login, home, people and API keys for admins, the event log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError

from shieldwall.api.deps import DbSession
from shieldwall.apikeys import repository as apikeys_repository
from shieldwall.apikeys import service as apikeys
from shieldwall.apikeys.schemas import ApiKeyCreate, KeyKind
from shieldwall.audit import repository as audit_repository
from shieldwall.audit import service as audit
from shieldwall.core.access import INTEGRATION_SCOPES, Role, Scope, scopes_for_role
from shieldwall.core.errors import InvalidInput, ShieldwallError
from shieldwall.core.principles import PRINCIPLES
from shieldwall.db.base import utcnow
from shieldwall.overview.service import overview
from shieldwall.users import repository as users_repository
from shieldwall.users import service as users
from shieldwall.users.schemas import UserCreate, UserUpdate
from shieldwall.web.render import form_error, render, see_other
from shieldwall.web.security import (
    SESSION_COOKIE,
    CsrfChecked,
    CurrentUser,
    WebUser,
    optional_user,
    page_requires,
    rotate_csrf,
    safe_next,
    start_login,
)

router = APIRouter(include_in_schema=False)
UsersAdmin = Annotated[WebUser, page_requires(Scope.USERS_MANAGE)]
KeysAdmin = Annotated[WebUser, page_requires(Scope.APIKEYS_MANAGE)]
EventsReader = Annotated[WebUser, page_requires(Scope.EVENTS_READ)]


# ---- login ---------------------------------------------------------------------------------


@router.get("/login")
def login_page(request: Request, db: DbSession, next: str = "/") -> Response:
    if optional_user(request, db) is not None:
        return see_other(request, safe_next(next))
    return render(request, "login.html", {"next": safe_next(next), "error": None})


@router.post("/login", dependencies=[CsrfChecked])
def login_submit(
    request: Request,
    db: DbSession,
    username: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=2048)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    settings = request.app.state.settings
    result = users.check_password_login(db, username, password, settings)
    if result.ok and result.user is not None:
        start_login(request, db, result.user)
        return see_other(request, safe_next(next))
    if result.outcome == users.LoginOutcome.LOCKED:
        error, status = (
            "Too many failed attempts: this account is locked for a while. "
            "An admin can unlock it sooner.",
            423,
        )
    else:
        # Same words for an unknown name, a wrong password and a deactivated account.
        error, status = "Wrong username or password.", 401
    db.commit()  # failed attempts must count even though the page answers an error
    return render(
        request,
        "login.html",
        {"next": safe_next(next), "error": error, "username": username[:64]},
        status=status,
    )


@router.post("/logout", dependencies=[CsrfChecked])
def logout(request: Request, db: DbSession) -> Response:
    token = request.cookies.get(SESSION_COOKIE, "")
    if token:
        users.end_web_session(db, token)
    request.state.clear_session = True
    return see_other(request, "/login")


# ---- home ----------------------------------------------------------------------------------


@router.get("/")
def home(request: Request, db: DbSession, user: CurrentUser) -> Response:
    data = overview(db)
    return render(
        request,
        "home.html",
        {
            "principles": PRINCIPLES,
            "overview": data,
            "recent": audit_repository.list_events(db, limit=8)
            if user.can(Scope.EVENTS_READ)
            else [],
        },
    )


# ---- people --------------------------------------------------------------------------------


def _users_page(
    request: Request,
    db: DbSession,
    *,
    error: str | None = None,
    notice: str | None = None,
    status: int = 200,
) -> Response:
    return render(
        request,
        "users.html",
        {
            "users": users_repository.list_users(db),
            "roles": list(Role),
            "error": error,
            "notice": notice,
        },
        status=status,
    )


@router.get("/admin/users")
def users_page(request: Request, db: DbSession, user: UsersAdmin) -> Response:
    return _users_page(request, db)


@router.post("/admin/users", dependencies=[CsrfChecked])
def users_create(
    request: Request,
    db: DbSession,
    user: UsersAdmin,
    username: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=2048)] = "",
    role: Annotated[str, Form(max_length=20)] = "reviewer",
    display_name: Annotated[str, Form(max_length=400)] = "",
) -> Response:
    try:
        data = UserCreate.model_validate(
            {
                "username": username.strip().lower(),
                "password": password,
                "role": role,
                "display_name": display_name,
            }
        )
        created = users.create_user(db, data, actor=user.principal)
    except (ValidationError, ShieldwallError) as exc:
        db.rollback()
        return _users_page(request, db, error=form_error(exc), status=422)
    return _users_page(
        request, db, notice=f"Created {created.username} ({created.role}).", status=201
    )


@router.post("/admin/users/{user_id}", dependencies=[CsrfChecked])
def users_update(
    request: Request,
    db: DbSession,
    user: UsersAdmin,
    user_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    action: Annotated[str, Form(max_length=20)],
    role: Annotated[str | None, Form(max_length=20)] = None,
    password: Annotated[str | None, Form(max_length=2048)] = None,
) -> Response:
    actions: dict[str, dict[str, object]] = {
        "role": {"role": role},
        "deactivate": {"is_active": False},
        "activate": {"is_active": True},
        "unlock": {"unlock": True},
        "password": {"password": password},
    }
    try:
        if action not in actions:
            raise InvalidInput(f"unknown action {action!r}")
        changes = UserUpdate.model_validate(actions[action])
        target = users.update_user(db, user_id, changes, actor=user.principal)
    except (ValidationError, ShieldwallError) as exc:
        db.rollback()
        return _users_page(request, db, error=form_error(exc), status=422)
    return _users_page(request, db, notice=f"Updated {target.username}.")


# ---- API keys ------------------------------------------------------------------------------


def _keys_page(
    request: Request,
    db: DbSession,
    *,
    error: str | None = None,
    created: str | None = None,
    status: int = 200,
) -> Response:
    return render(
        request,
        "apikeys.html",
        {
            "keys": apikeys_repository.list_keys(db),
            "users": {u.id: u for u in users_repository.list_users(db)},
            "integration_scopes": sorted(INTEGRATION_SCOPES),
            "all_scopes": list(Scope),
            "role_scopes": {r.value: sorted(scopes_for_role(r)) for r in Role},
            "error": error,
            "created": created,
            "now": utcnow(),
        },
        status=status,
    )


@router.get("/admin/api-keys")
def keys_page(request: Request, db: DbSession, user: KeysAdmin) -> Response:
    return _keys_page(request, db)


@router.post("/admin/api-keys", dependencies=[CsrfChecked])
def keys_create(
    request: Request,
    db: DbSession,
    user: KeysAdmin,
    name: Annotated[str, Form(max_length=200)] = "",
    kind: Annotated[str, Form(max_length=20)] = KeyKind.INTEGRATION.value,
    scopes: Annotated[list[str], Form()] = [],  # noqa: B006 - FastAPI copies defaults
    owner_id: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    try:
        data = ApiKeyCreate.model_validate(
            {"name": name, "kind": kind, "scopes": scopes, "owner_id": _owner_id(owner_id)}
        )
        _key, plain = apikeys.create_key(db, data, actor=user.principal)
    except (ValidationError, ShieldwallError) as exc:
        db.rollback()
        return _keys_page(request, db, error=form_error(exc), status=422)
    # The key is shown in this answer only. A reload re-sends the form; the rotated csrf
    # cookie makes that a refused stale form instead of a second key.
    rotate_csrf(request)
    response = _keys_page(request, db, created=plain, status=201)
    response.headers["Cache-Control"] = "no-store"
    return response


def _owner_id(text: str) -> int | None:
    """The form's owner: blank is the person acting; the schema bounds the number."""
    text = text.strip()
    if not text:
        return None
    # ASCII digits only: str.isdigit() also takes '²', which int() refuses
    if not (text.isascii() and text.isdigit()):
        raise InvalidInput("owner_id must be a user id (a whole number)", field="owner_id")
    return int(text)


@router.post("/admin/api-keys/{key_id}/revoke", dependencies=[CsrfChecked])
def keys_revoke(
    request: Request,
    db: DbSession,
    user: KeysAdmin,
    key_id: Annotated[int, Path(ge=1, le=apikeys_repository.MAX_KEY_ID)],
) -> Response:
    try:
        apikeys.revoke_key(db, key_id, actor=user.principal)
    except ShieldwallError as exc:
        db.rollback()
        return _keys_page(request, db, error=exc.message, status=exc.status)
    return see_other(request, "/admin/api-keys")


# ---- event log -----------------------------------------------------------------------------


@router.get("/events")
def events_page(
    request: Request,
    db: DbSession,
    user: EventsReader,
    before_id: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    kind: str | None = None,
    verify: bool = False,
) -> Response:
    rows = audit_repository.list_events(db, before_id=before_id, kind=kind or None, limit=50)
    report = audit.verify_chain(db) if verify else None
    return render(
        request,
        "events.html",
        {
            "events": rows,
            "report": report,
            "kind": kind or "",
            "next_before_id": rows[-1].id if len(rows) == 50 else None,
        },
    )
