"""Inserting many rows at once, as fast as the driver allows.

Each value passes its column's own bind processor (the conversion SQLAlchemy itself applies:
aware datetimes to SQLite's text, JSON to text or ``Jsonb``), once, and the rows then go to
the driver in one ``executemany`` (SQLite) or one ``COPY ... FROM STDIN`` (PostgreSQL), in
the session's transaction. This skips SQLAlchemy's per-row statement machinery, which costs
more than the database work for narrow rows; the stored values are the same.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.orm import Session

Processor = Callable[[Any], Any] | None


def _processors(table: Table, columns: Sequence[str], dialect: Any) -> list[Processor]:
    return [table.c[name].type._cached_bind_processor(dialect) for name in columns]


def insert_rows(
    session: Session, table: Table, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> int:
    """Insert ``rows`` (values in ``columns`` order; None is SQL NULL); returns how many."""
    connection = session.connection()
    dialect = connection.dialect
    processors = _processors(table, columns, dialect)

    # Only columns with a processor need work. Rows of one batch share objects (one
    # timestamp, one labels list): each is converted once.
    needs: list[tuple[int, Callable[[Any], Any], dict[int, Any]]] = [
        (i, p, {}) for i, p in enumerate(processors) if p is not None
    ]
    keep: list[Any] = []  # keeps memoised objects alive, so their ids stay theirs

    def convert(row: Sequence[Any]) -> list[Any]:
        out = list(row)
        for i, process, memo in needs:
            value = out[i]
            if value is None:
                continue
            if isinstance(value, str | int | float):
                out[i] = process(value)
                continue
            key = id(value)
            found = memo.get(key)
            if found is None:
                found = memo[key] = process(value)
                keep.append(value)
            out[i] = found
        return out

    names = ", ".join(columns)
    count = 0
    if dialect.name == "postgresql":
        driver = connection.connection.driver_connection
        assert driver is not None
        with (
            driver.cursor() as cursor,
            cursor.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(convert(row))
                count += 1
        return count
    marks = ", ".join("?" for _ in columns)
    converted = [tuple(convert(row)) for row in rows]
    if converted:
        connection.exec_driver_sql(
            f"INSERT INTO {table.name} ({names}) VALUES ({marks})",  # noqa: S608 - our names
            converted,
        )
    return len(converted)
