"""Engine and session factory, with the SQLite settings the embedded mode needs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

#: Execution option of connections that only read (see :meth:`Database.reading`).
READING = "shieldwall_reading"
#: Page size of a new embedded database (SQLite's default is 4096).
SQLITE_PAGE_SIZE = 8192


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url``.

    SQLite gets WAL journaling, foreign keys, a busy timeout, and ``BEGIN IMMEDIATE``
    transactions: a transaction takes the write lock when it starts, so two writers wait
    for each other instead of one failing half-way with "database is locked". Connections
    with the :data:`READING` option begin plain (deferred) transactions instead: a
    snapshot that reads while a writer writes.
    PostgreSQL connections are checked before use, so a restarted database is survived.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            **kwargs,
        )

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            # Let SQLAlchemy's "begin" event, not the driver, start transactions.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            # takes effect only on a new database (before its first table). The database
            # work of a million-record fetch alone (benchmarks/exchange_ingest.py's floor,
            # one run each): 9.2 s with 4 KiB pages, 7.7 s with 8 KiB; the whole fetch
            # showed no change beyond noise
            cursor.execute(f"PRAGMA page_size={SQLITE_PAGE_SIZE}")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Any) -> None:
            if conn.get_execution_options().get(READING):
                # a reader's snapshot (WAL): it neither waits for the writer nor blocks it
                conn.exec_driver_sql("BEGIN")
            else:
                conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    return create_engine(url, **kwargs)


class Database:
    """One engine and its session factory; created once per process."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine = make_engine(url, **engine_kwargs)
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)
        self._readers = sessionmaker(
            self.engine.execution_options(**{READING: True}), expire_on_commit=False
        )

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits when the block ends normally and rolls back otherwise."""
        session = self.sessionmaker()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A session that only reads, rolled back when the block ends. On SQLite its
        transaction is a snapshot that takes no write lock: a long read (the live index
        following every bank change) neither waits for a writer's transaction (a fetch
        batch holds it for seconds) nor makes writers wait. It must not write: on SQLite a
        write in it fails ("database is locked") once another connection has committed
        since it began reading. PostgreSQL: a plain session."""
        session = self._readers()
        try:
            yield session
        finally:
            session.rollback()
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()
