"""Rules for people: creating and changing accounts, password login with lock-out,
and browser sessions. Flushes, never commits."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy.orm import Session

from shieldwall.audit import service as audit
from shieldwall.config import Settings
from shieldwall.core.access import Principal, PrincipalKind, Role, scopes_for_role
from shieldwall.core.errors import Conflict, InvalidInput, NotFound
from shieldwall.db.base import utcnow
from shieldwall.users import passwords, repository
from shieldwall.users.models import User, WebSession
from shieldwall.users.schemas import USERNAME_PATTERN, UserCreate, UserUpdate

_USERNAME = re.compile(USERNAME_PATTERN)


def principal_for(user: User) -> Principal:
    role = Role(user.role)
    return Principal(
        PrincipalKind.USER,
        name=user.username,
        user_id=user.id,
        role=role,
        scopes=scopes_for_role(role),
    )


def get_user(session: Session, user_id: int) -> User:
    user = repository.get_user(session, user_id)
    if user is None:
        raise NotFound(f"no user with id {user_id}", user_id=user_id)
    return user


def create_user(session: Session, data: UserCreate, *, actor: Principal) -> User:
    username = data.username.strip().lower()
    if not _USERNAME.fullmatch(username):
        raise InvalidInput(
            "username must be 2-64 characters: lower-case letters, digits, '.', '_' or '-'",
            field="username",
        )
    try:
        password_hash = passwords.hash_password(data.password)
    except ValueError as exc:
        raise InvalidInput(str(exc), field="password") from None
    if repository.get_user_by_username(session, username) is not None:
        raise Conflict(f"a user named {username!r} already exists", field="username")
    user = User(
        username=username,
        display_name=data.display_name.strip(),
        password_hash=password_hash,
        role=Role(data.role).value,
        is_active=True,
        failed_logins=0,
    )
    session.add(user)
    session.flush()
    audit.record(
        session,
        "user.created",
        actor=actor,
        subject=f"user:{user.id}",
        payload={"role": user.role},
    )
    return user


def update_user(session: Session, user_id: int, data: UserUpdate, *, actor: Principal) -> User:
    user = get_user(session, user_id)
    changed: dict[str, object] = {}
    if data.role is not None and data.role.value != user.role:
        if user.role == Role.ADMIN and _is_last_admin(session, user):
            raise Conflict("cannot change the role of the last active admin")
        user.role = data.role.value
        changed["role"] = user.role
    if data.display_name is not None and data.display_name.strip() != user.display_name:
        user.display_name = data.display_name.strip()
        changed["display_name"] = True
    if data.is_active is not None and data.is_active != user.is_active:
        if not data.is_active and user.role == Role.ADMIN and _is_last_admin(session, user):
            raise Conflict("cannot deactivate the last active admin")
        user.is_active = data.is_active
        changed["is_active"] = user.is_active
        if not user.is_active:
            repository.delete_sessions_of(session, user.id)
    if data.password is not None:
        try:
            user.password_hash = passwords.hash_password(data.password)
        except ValueError as exc:
            raise InvalidInput(str(exc), field="password") from None
        repository.delete_sessions_of(session, user.id)
        changed["password"] = True
    if data.unlock and (user.locked_until is not None or user.failed_logins):
        user.locked_until = None
        user.failed_logins = 0
        changed["unlocked"] = True
    if changed:
        session.flush()
        audit.record(
            session, "user.updated", actor=actor, subject=f"user:{user.id}", payload=changed
        )
    return user


def _is_last_admin(session: Session, user: User) -> bool:
    return user.is_active and repository.count_active_admins(session) <= 1


class LoginOutcome(StrEnum):
    OK = "ok"
    BAD_CREDENTIALS = "bad_credentials"
    LOCKED = "locked"
    INACTIVE = "inactive"


@dataclass(frozen=True)
class LoginResult:
    outcome: LoginOutcome
    user: User | None = None
    locked_until: datetime | None = None

    @property
    def ok(self) -> bool:
        return self.outcome is LoginOutcome.OK


def check_password_login(
    session: Session, username: str, password: str, settings: Settings
) -> LoginResult:
    """Check a login and record the attempt. The caller must commit even on failure,
    so failed attempts count towards the lock-out."""
    now = utcnow()
    user = repository.get_user_by_username(session, username.strip().lower()[:64])
    valid = passwords.verify_password(user.password_hash if user else None, password)
    if user is None:
        audit.record(session, "auth.login_failed", actor="anonymous", payload={"reason": "unknown"})
        return LoginResult(LoginOutcome.BAD_CREDENTIALS)
    subject = f"user:{user.id}"
    if user.locked_until is not None and user.locked_until > now:
        audit.record(
            session,
            "auth.login_refused",
            actor="anonymous",
            subject=subject,
            payload={"reason": "locked"},
        )
        return LoginResult(LoginOutcome.LOCKED, locked_until=user.locked_until)
    if not valid:
        user.failed_logins += 1
        payload: dict[str, object] = {"reason": "password", "failures": user.failed_logins}
        audit.record(
            session, "auth.login_failed", actor="anonymous", subject=subject, payload=payload
        )
        if user.failed_logins >= settings.login_max_failures:
            user.locked_until = now + timedelta(minutes=settings.login_lockout_minutes)
            user.failed_logins = 0
            audit.record(
                session,
                "user.locked",
                actor="system:auth",
                subject=subject,
                payload={"minutes": settings.login_lockout_minutes},
            )
            session.flush()
            return LoginResult(LoginOutcome.LOCKED, locked_until=user.locked_until)
        session.flush()
        return LoginResult(LoginOutcome.BAD_CREDENTIALS)
    if not user.is_active:
        audit.record(
            session,
            "auth.login_refused",
            actor="anonymous",
            subject=subject,
            payload={"reason": "inactive"},
        )
        return LoginResult(LoginOutcome.INACTIVE)
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    session.flush()
    audit.record(session, "auth.login_succeeded", actor=f"user:{user.id}", subject=subject)
    return LoginResult(LoginOutcome.OK, user=user)


# ---- browser sessions ---------------------------------------------------------------------


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_web_session(session: Session, user: User, settings: Settings) -> str:
    """Create a login session; returns the cookie value (shown nowhere else)."""
    now = utcnow()
    repository.delete_expired_sessions(session, now)
    token = secrets.token_urlsafe(32)
    session.add(
        WebSession(
            token_hash=_token_hash(token),
            user_id=user.id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + timedelta(minutes=settings.session_lifetime_minutes),
        )
    )
    session.flush()
    return token


def resolve_web_session(session: Session, token: str) -> tuple[WebSession, User] | None:
    """The live session and its active user for a cookie value, or None."""
    if not token or len(token) > 200:
        return None
    web = repository.get_session_by_token_hash(session, _token_hash(token))
    if web is None or web.expires_at <= utcnow():
        return None
    user = repository.get_user(session, web.user_id)
    if user is None or not user.is_active:
        return None
    return web, user


def end_web_session(session: Session, token: str) -> None:
    web = repository.get_session_by_token_hash(session, _token_hash(token))
    if web is not None:
        audit.record(
            session, "auth.logged_out", actor=f"user:{web.user_id}", subject=f"user:{web.user_id}"
        )
        session.delete(web)
        session.flush()
