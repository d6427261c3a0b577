"""All SQL for intake: user reports and their lookup keys, takedown requests, rate windows."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import cast

from sqlalchemy import Table, delete, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from shieldwall.intake.models import RateLimitWindow, TakedownRequest, UserReport, UserReportKey

_windows = cast(Table, RateLimitWindow.__table__)
_keys = cast(Table, UserReportKey.__table__)


# ---- rate-limit windows --------------------------------------------------------------------


def count_in_window(session: Session, bucket: str, caller_key: str, start: datetime) -> int:
    return int(
        session.scalar(
            select(RateLimitWindow.count).where(
                RateLimitWindow.bucket == bucket,
                RateLimitWindow.caller_key == caller_key,
                RateLimitWindow.window_start == start,
            )
        )
        or 0
    )


def increment_window(
    session: Session, bucket: str, caller_key: str, start: datetime, expires_at: datetime
) -> int:
    """Add one to the caller's count in the window starting at ``start``, atomically (an
    upsert: concurrent requests from many processes each see their own new count)."""
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    stmt = module.insert(_windows).values(
        bucket=bucket, caller_key=caller_key, window_start=start, expires_at=expires_at, count=1
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["bucket", "caller_key", "window_start"],
        set_={"count": _windows.c.count + 1},
    ).returning(_windows.c.count)
    return int(session.execute(stmt).scalar_one())


def delete_expired_windows(session: Session, now: datetime) -> int:
    result = session.execute(
        delete(RateLimitWindow)
        .where(RateLimitWindow.expires_at <= now)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


# ---- user reports --------------------------------------------------------------------------


def get_report(session: Session, report_id: int) -> UserReport | None:
    return session.get(UserReport, report_id)


def add_report_keys(session: Session, report_id: int, keys: Sequence[str]) -> None:
    if keys:
        session.execute(insert(_keys), [{"report_id": report_id, "key": k} for k in keys])


def earliest_report_with_keys(
    session: Session, keys: Sequence[str], *, exclude_id: int | None = None
) -> UserReport | None:
    """The first report that shares any of ``keys`` (same content id, URL or hash)."""
    if not keys:
        return None
    stmt = (
        select(UserReport)
        .join(UserReportKey, UserReportKey.report_id == UserReport.id)
        .where(UserReportKey.key.in_(list(keys)))
        .order_by(UserReport.id)
        .limit(1)
    )
    if exclude_id is not None:
        stmt = stmt.where(UserReport.id != exclude_id)
    return session.scalar(stmt)


def reports_for_case(session: Session, case_id: int) -> list[UserReport]:
    return list(
        session.scalars(
            select(UserReport).where(UserReport.case_id == case_id).order_by(UserReport.id)
        )
    )


# ---- takedown requests ---------------------------------------------------------------------


def get_takedown(session: Session, request_id: int) -> TakedownRequest | None:
    return session.get(TakedownRequest, request_id)


def takedowns_for_case(session: Session, case_id: int) -> list[TakedownRequest]:
    return list(
        session.scalars(
            select(TakedownRequest)
            .where(TakedownRequest.case_id == case_id)
            .order_by(TakedownRequest.id)
            .with_for_update()
        )
    )
