"""Inserting (and reading) many rows at once, as fast as the driver allows.

SQLite: each value passes its column's own bind processor (the conversion SQLAlchemy itself
applies: aware datetimes to SQLite's text, JSON to text), then all rows go to the driver in
one ``executemany`` of many-row INSERTs, a value every row shares bound once per statement.
PostgreSQL: the rows are written as ``COPY ... FROM STDIN`` text (timestamps as ISO 8601
with their offset, JSON as its text, the format's escapes). Either way in the session's
transaction, with the values SQLAlchemy would have stored, but without its per-row statement
machinery, which costs more than the database work for narrow rows. Objects shared by many
rows (one timestamp, one labels list) are converted once.
"""

from __future__ import annotations

import json
import operator
import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from itertools import chain, repeat
from typing import Any

from sqlalchemy import JSON, Select, Table
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

Processor = Callable[[Any], Any] | None
#: COPY text format escapes (backslash first).
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
#: Rows buffered per write to the COPY stream.
_COPY_CHUNK = 2000


def insert_rows(
    session: Session,
    table: Table,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    skip_conflicts: bool = False,
) -> int:
    """Insert ``rows`` (values in ``columns`` order; None is SQL NULL); returns how many were
    inserted. ``skip_conflicts`` (SQLite only: COPY cannot): a row that would break a unique
    constraint is left out (``ON CONFLICT DO NOTHING``) instead of failing the statement."""
    connection = session.connection()
    cells = _by_column(rows, len(columns))
    if not cells or not cells[0]:
        return 0
    if connection.dialect.name == "postgresql":
        if skip_conflicts:
            raise ValueError("a PostgreSQL bulk insert (COPY) cannot skip conflicting rows")
        return _copy_rows(connection, table, columns, cells)
    for i, name in enumerate(columns):
        process = table.c[name].type._cached_bind_processor(connection.dialect)
        if process is not None:
            cells[i] = _converted(cells[i], process)
    shared, varying = split_shared(cells)
    driver = connection.connection.driver_connection
    inserted = 0
    # Many rows per statement: the driver lets go of the interpreter lock while SQLite
    # runs each statement and takes it back after; once per row, a thread fetching the next
    # pages meanwhile made every row wait for the lock.
    for statement, parameters in sqlite_statements(
        f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ",  # noqa: S608 - our names
        varying,
        rows_per_statement(driver, len(columns) - len(shared), shared=len(shared)),
        tail=" ON CONFLICT DO NOTHING" if skip_conflicts else "",
        shared=shared,
    ):
        inserted += int(connection.exec_driver_sql(statement, parameters).rowcount)
    # the driver sums an executemany's changes; rows skipped on conflict change nothing
    return inserted if skip_conflicts else len(varying)


def split_shared(
    cells: Sequence[Sequence[Any]],
) -> tuple[dict[int, Any], list[tuple[Any, ...]]]:
    """Columns' values (``cells``, one sequence per column) as ``(shared, rows)``: the value
    every row has, by column position (one object in every row: the bank, the batch's
    time and change number), and each row's other values, for :func:`sqlite_statements`.
    A shared value is bound once per statement instead of once per row: binding is most of
    the driver's work that holds the interpreter lock."""
    shared = {i: column[0] for i, column in enumerate(cells) if column and _one_object(column)}
    rows = list(zip(*(c for i, c in enumerate(cells) if i not in shared), strict=True))
    if not rows and cells:  # every value shared: rows of no values of their own
        rows = [()] * len(cells[0])
    return shared, rows


def _one_object(column: Sequence[Any]) -> bool:
    """Whether every value of ``column`` is the same object (so binds the same)."""
    first = column[0]
    return all(map(operator.is_, column, repeat(first)))


#: Most rows in one SQLite INSERT (fewer where the build allows fewer bound parameters).
_ROWS_PER_STATEMENT = 500


def rows_per_statement(driver: Any, width: int, *, shared: int = 0) -> int:
    """How many rows of ``width`` values one INSERT may carry on this ``sqlite3``
    connection (besides ``shared`` values bound once for them all)."""
    limit = int(driver.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)) - shared
    return max(1, min(_ROWS_PER_STATEMENT, limit // max(1, width)))


def sqlite_statements(
    head: str,
    rows: Sequence[Sequence[Any]],
    per: int,
    *,
    tail: str = "",
    shared: Mapping[int, Any] | None = None,
) -> list[tuple[str, list[tuple[Any, ...]]]]:
    """``head`` (``INSERT INTO t (a, b) VALUES ``) made into statements of ``per`` rows (and
    one for the rest), each with the parameters of every execution, for ``executemany``.
    ``shared`` maps a column's position to the value every row has there: bound once per
    statement (``?1``, ``?2``, ... in each row, SQLite's numbered parameters), the ``rows``
    carrying only the other columns' values, in order."""
    if not rows:
        return []
    fixed = dict(shared or {})
    width = len(rows[0]) + len(fixed)
    if any(not 0 <= position < width for position in fixed):
        raise ValueError(f"shared positions {sorted(fixed)} outside a row of {width} values")
    first = tuple(fixed.values())
    slots = {position: n for n, position in enumerate(fixed, start=1)}

    def values(count: int) -> str:
        at = len(first)
        made = []
        for _ in range(count):
            marks = []
            for position in range(width):
                if position in slots:
                    marks.append(f"?{slots[position]}")
                else:
                    at += 1
                    marks.append(f"?{at}")
            made.append("(" + ", ".join(marks) + ")")
        return ", ".join(made)

    whole = len(rows) - len(rows) % per
    out: list[tuple[str, list[tuple[Any, ...]]]] = []
    if whole:
        out.append(
            (
                head + values(per) + tail,
                [
                    first + tuple(chain.from_iterable(rows[at : at + per]))
                    for at in range(0, whole, per)
                ],
            )
        )
    if whole < len(rows):
        rest = rows[whole:]
        out.append((head + values(len(rest)) + tail, [first + tuple(chain.from_iterable(rest))]))
    return out


def _by_column(rows: Iterable[Sequence[Any]], width: int) -> list[list[Any]]:
    """The rows' values, one list per column (every row must have ``width`` values)."""
    listed = rows if isinstance(rows, list) else list(rows)
    if not listed:
        return []
    cells = [list(column) for column in zip(*listed, strict=True)]
    if len(cells) != width:
        raise ValueError(f"rows of {len(cells)} values for {width} columns")
    return cells


def _converted(column: list[Any], convert: Callable[[Any], Any], none: Any = None) -> list[Any]:
    """``convert`` of each value (None becomes ``none``), once per distinct object: rows of one
    batch mostly share their timestamps and label lists, and the lookups by ``id`` run in
    C. The column holds every object, so no id is reused while the table is in use."""
    ids = list(map(id, column))
    if ids and ids.count(ids[0]) == len(ids):  # one object in every row (a batch's time)
        value = column[0]
        return [none if value is None else convert(value)] * len(ids)
    distinct = dict(zip(ids, column, strict=True))
    table = {key: none if value is None else convert(value) for key, value in distinct.items()}
    return list(map(table.__getitem__, ids))


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
        # the sequence's name looked up once: inside the row function it was looked up per
        # row (2.5 of the server's seconds for a million ids, pg_stat_statements)
        sequence = connection.exec_driver_sql(
            "SELECT pg_get_serial_sequence(%(table)s, 'id')", {"table": table.name}
        ).scalar_one()
        # one array, not a row per id (the driver reads it in C)
        found = connection.exec_driver_sql(
            "SELECT array_agg(n ORDER BY n) FROM (SELECT nextval(%(sequence)s::regclass) AS n "
            "FROM generate_series(1, %(count)s)) AS taken",
            {"sequence": sequence, "count": count},
        ).scalar_one()
        return list(found)
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
    connection: Any, table: Table, columns: Sequence[str], cells: list[list[Any]]
) -> int:
    texts = [
        _copy_column(column, isinstance(table.c[name].type, JSON))
        for name, column in zip(columns, cells, strict=True)
    ]
    driver = connection.connection.driver_connection
    assert driver is not None
    statement = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN"
    lines = list(map("\t".join, zip(*texts, strict=True)))
    driver_error = connection.dialect.loaded_dbapi.Error
    try:
        with driver.cursor() as cursor, cursor.copy(statement) as copy:
            for start in range(0, len(lines), _COPY_CHUNK):
                copy.write("\n".join(lines[start : start + _COPY_CHUNK]) + "\n")
    except driver_error as error:
        # wrapped as SQLAlchemy wraps any statement's (a value taken: IntegrityError), so
        # callers handle a COPY's failure as they handle an INSERT's
        raise DBAPIError.instance(statement, None, error, driver_error) from error
    return len(lines)


def _copy_column(column: list[Any], is_json: bool) -> list[str]:
    """One column's values as COPY text."""
    if not is_json:
        kinds = set(map(type, column))
        if kinds == {str}:  # hashes, names, record ids: escaped only when they need it
            joined = "".join(column)
            if any(special in joined for special in "\\\t\n\r"):
                return list(map(_escape, column))
            return column
        if kinds == {int}:
            return list(map(str, column))
    return _converted(column, lambda value: _copy_text(value, is_json), none="\\N")


def read_rows(session: Session, statement: Select[Any]) -> list[tuple[Any, ...]]:
    """The rows of ``statement``, in the session's transaction, as the driver returns them:
    plain tuples read from the statement's cursor, without SQLAlchemy's row objects and
    result processing, which cost more than the driver's own reading for narrow rows (the
    live index syncing a million bank changes: 5.0-5.2 -> 3.3-3.6 CPU s, three runs
    each). Executed as any
    statement is (engine events see it). Values come as the driver gives them: use it for
    ids and text; a timestamp is text on SQLite."""
    result = session.connection().execute(statement)
    try:
        return list(result.cursor.fetchall()) if result.cursor is not None else []
    finally:
        result.close()
