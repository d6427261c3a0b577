"""Inserting many rows at once, as fast as the driver allows.

SQLite: each value passes its column's own bind processor (the conversion SQLAlchemy itself
applies: aware datetimes to SQLite's text, JSON to text), then all rows go to the driver in
one ``executemany``. PostgreSQL: the rows are written as ``COPY ... FROM STDIN`` text
(timestamps as ISO 8601 with their offset, JSON as its text, the format's escapes). Either
way in the session's transaction, with the values SQLAlchemy would have stored, but without
its per-row statement machinery, which costs more than the database work for narrow rows.
Objects shared by many rows (one timestamp, one labels list) are converted once.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Table
from sqlalchemy.orm import Session

Processor = Callable[[Any], Any] | None
#: COPY text format escapes (backslash first).
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
#: Rows buffered per write to the COPY stream.
_COPY_CHUNK = 2000


def insert_rows(
    session: Session, table: Table, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> int:
    """Insert ``rows`` (values in ``columns`` order; None is SQL NULL); returns how many."""
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        return _copy_rows(connection, table, columns, rows)
    processors = [table.c[name].type._cached_bind_processor(connection.dialect) for name in columns]
    needs: list[tuple[int, Callable[[Any], Any], dict[int, Any]]] = [
        (i, p, {}) for i, p in enumerate(processors) if p is not None
    ]
    keep: list[Any] = []  # keeps memoised objects alive, so their ids stay theirs

    def convert(row: Sequence[Any]) -> tuple[Any, ...]:
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
        return tuple(out)

    converted = [convert(row) for row in rows]
    if converted:
        names = ", ".join(columns)
        marks = ", ".join("?" for _ in columns)
        connection.exec_driver_sql(
            f"INSERT INTO {table.name} ({names}) VALUES ({marks})",  # noqa: S608 - our names
            converted,
        )
    return len(converted)


def allocate_ids(session: Session, table: Table, count: int) -> list[int]:
    """``count`` fresh primary-key values for ``table``, ascending, to insert rows with
    (so a bulk insert need not read its ids back). PostgreSQL takes them from the column's
    sequence. SQLite continues after the largest id, as it would itself: the caller must
    hold the write lock (have written in this transaction), so no other writer can take
    them before the rows are inserted."""
    if count <= 0:
        return []
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        found = connection.exec_driver_sql(
            "SELECT nextval(pg_get_serial_sequence(%(table)s, 'id')) "
            "FROM generate_series(1, %(count)s)",
            {"table": table.name, "count": count},
        ).scalars()
        return sorted(int(i) for i in found)
    last = connection.exec_driver_sql(
        f"SELECT max(id) FROM {table.name}"  # noqa: S608 - our table's name
    ).scalar()
    start = int(last or 0) + 1
    return list(range(start, start + count))


def _escape(text: str) -> str:
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        return text.translate(_COPY_ESCAPES)
    return text


def _copy_text(value: Any, is_json: bool) -> str:
    if value is None:
        return "\\N"
    if is_json:
        return _escape(json.dumps(value))
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a bulk insert; use an aware one")
        return value.isoformat()
    return _escape(str(value))


def _copy_rows(
    connection: Any, table: Table, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> int:
    is_json = [isinstance(table.c[name].type, JSON) for name in columns]
    memo: list[dict[int, str]] = [{} for _ in columns]
    keep: list[Any] = []
    count = 0
    driver = connection.connection.driver_connection
    assert driver is not None
    names = ", ".join(columns)
    plain = [not j for j in is_json]
    with driver.cursor() as cursor, cursor.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
        lines: list[str] = []
        for row in rows:
            fields = []
            for i, value in enumerate(row):
                kind = type(value)
                if kind is str and plain[i]:
                    fields.append(_escape(value))
                elif value is None:
                    fields.append("\\N")
                elif kind is int and plain[i]:
                    fields.append(str(value))
                else:
                    found = memo[i].get(id(value))
                    if found is None:
                        found = memo[i][id(value)] = _copy_text(value, is_json[i])
                        keep.append(value)
                    fields.append(found)
            lines.append("\t".join(fields))
            count += 1
            if len(lines) >= _COPY_CHUNK:
                copy.write("\n".join(lines) + "\n")
                lines = []
        if lines:
            copy.write("\n".join(lines) + "\n")
    return count
