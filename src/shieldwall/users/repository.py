"""All SQL for users and web sessions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from shieldwall.users.models import User, WebSession


def get_user(session: Session, user_id: int) -> User | None:
    return session.get(User, user_id)


def get_user_by_username(session: Session, username: str) -> User | None:
    if "\x00" in username:
        return None  # no username holds NUL, and PostgreSQL refuses it in a query
    return session.scalar(select(User).where(User.username == username))


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.username)))


def count_users(session: Session, *, active_only: bool = False) -> int:
    stmt = select(func.count()).select_from(User)
    if active_only:
        stmt = stmt.where(User.is_active.is_(True))
    return int(session.scalar(stmt) or 0)


def count_active_admins(session: Session) -> int:
    stmt = (
        select(func.count()).select_from(User).where(User.role == "admin", User.is_active.is_(True))
    )
    return int(session.scalar(stmt) or 0)


def get_session_by_token_hash(session: Session, token_hash: str) -> WebSession | None:
    return session.scalar(select(WebSession).where(WebSession.token_hash == token_hash))


def delete_sessions_of(session: Session, user_id: int) -> None:
    session.execute(delete(WebSession).where(WebSession.user_id == user_id))


def delete_expired_sessions(session: Session, now: datetime) -> None:
    session.execute(delete(WebSession).where(WebSession.expires_at < now))
