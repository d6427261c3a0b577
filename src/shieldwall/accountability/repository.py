"""All SQL of the accountability tracker. The tables are small (thousands of rows), so
analysis reads whole tables and works in Python."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from shieldwall.accountability.models import (
    Alias,
    Commitment,
    Company,
    Disclosure,
    Evidence,
    ImportRun,
    NcmecCount,
    NcmecTotal,
    Service,
    Statement,
)

T = TypeVar("T", Commitment, Statement, Disclosure, NcmecCount, Evidence)
CHUNK = 500


def companies(session: Session) -> list[Company]:
    return list(session.scalars(select(Company).order_by(Company.name)))


def company_by_slug(session: Session, slug: str) -> Company | None:
    return session.scalar(select(Company).where(Company.slug == slug))


def services(session: Session) -> list[Service]:
    return list(session.scalars(select(Service).order_by(Service.company_id, Service.name)))


def aliases(session: Session) -> list[Alias]:
    return list(session.scalars(select(Alias).order_by(Alias.key)))


def alias_by_key(session: Session, key: str) -> Alias | None:
    return session.scalar(select(Alias).where(Alias.key == key))


def by_fact_keys(session: Session, model: type[T], keys: Iterable[str]) -> dict[str, T]:
    wanted = list(dict.fromkeys(keys))
    found: dict[str, T] = {}
    for start in range(0, len(wanted), CHUNK):
        chunk = wanted[start : start + CHUNK]
        for row in session.scalars(select(model).where(model.fact_key.in_(chunk))):
            found[row.fact_key] = row
    return found


def all_rows(session: Session, model: type[Any], *order: Any) -> list[Any]:
    return list(session.scalars(select(model).order_by(*order)))


def commitments(session: Session, company_id: int | None = None) -> list[Commitment]:
    stmt = select(Commitment).order_by(Commitment.on_date, Commitment.id)
    if company_id is not None:
        stmt = stmt.where(Commitment.company_id == company_id)
    return list(session.scalars(stmt))


def disclosures(
    session: Session, company_id: int | None = None, metric: str | None = None
) -> list[Disclosure]:
    stmt = select(Disclosure).order_by(Disclosure.company_id, Disclosure.period_start)
    if company_id is not None:
        stmt = stmt.where(Disclosure.company_id == company_id)
    if metric is not None:
        stmt = stmt.where(Disclosure.metric == metric)
    return list(session.scalars(stmt))


def ncmec_counts(session: Session, company_id: int | None = None) -> list[NcmecCount]:
    stmt = select(NcmecCount).order_by(NcmecCount.year, NcmecCount.line)
    if company_id is not None:
        stmt = stmt.where(NcmecCount.company_id == company_id)
    return list(session.scalars(stmt))


def ncmec_totals(session: Session) -> dict[int, NcmecTotal]:
    return {t.year: t for t in session.scalars(select(NcmecTotal).order_by(NcmecTotal.year))}


def evidence(session: Session, company_id: int | None = None) -> list[Evidence]:
    stmt = select(Evidence).order_by(Evidence.company_id, Evidence.principle)
    if company_id is not None:
        stmt = stmt.where(Evidence.company_id == company_id)
    return list(session.scalars(stmt))


def statements(session: Session) -> list[Statement]:
    return list(session.scalars(select(Statement).order_by(Statement.on_date, Statement.id)))


def imports(session: Session, limit: int = 50) -> list[ImportRun]:
    stmt = select(ImportRun).order_by(ImportRun.id.desc()).limit(limit)
    return list(session.scalars(stmt))


def fact_count(session: Session) -> int:
    total = 0
    for model in (Commitment, Disclosure, NcmecCount, Statement):
        total += int(session.scalar(select(func.count()).select_from(model)) or 0)
    return total


def delete_row(session: Session, model: type[Any], row_id: int) -> bool:
    result = session.execute(delete(model).where(model.id == row_id))
    return bool(getattr(result, "rowcount", 0))
