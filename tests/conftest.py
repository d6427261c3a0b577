"""Shared fixtures.

Database: SQLite files by default (one migrated template, copied per test). Set
``SHIELDWALL_TEST_DATABASE_URL`` to a PostgreSQL URL to run the same tests there; each test
then starts from emptied tables (CI does this, see .ci/run).
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, make_url, text

from shieldwall.api import create_app
from shieldwall.apikeys import service as apikeys
from shieldwall.apikeys.schemas import ApiKeyCreate, KeyKind
from shieldwall.banks.changes import current_seq
from shieldwall.config import Settings
from shieldwall.core.access import Principal, Role, Scope
from shieldwall.db import migrate
from shieldwall.db.engine import Database
from shieldwall.db.models import Base
from shieldwall.users import service as users
from shieldwall.users.models import User
from shieldwall.users.schemas import UserCreate
from tests.browser import browser, page  # noqa: F401 - registered once for every folder


def _own_database(url: str) -> str:
    """Under pytest-xdist each worker gets its own database, ``<name>_<worker>`` (e.g.
    ``shieldwall_ci_gw0``), which must exist (.ci/run creates them): the tests empty and
    rebuild the database they use, so workers cannot share one."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not url or not worker:
        return url
    parsed = make_url(url)
    return parsed.set(database=f"{parsed.database}_{worker}").render_as_string(hide_password=False)


PG_URL = _own_database(os.environ.get("SHIELDWALL_TEST_DATABASE_URL", "").strip())
SYSTEM = Principal.system("tests")
PASSWORD = "correct horse battery staple"


def reset_postgres(url: str, *, schema: bool) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        if schema:
            conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        else:
            tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
            conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
            # the singleton rows the migrations create
            conn.execute(
                text(
                    "INSERT INTO event_chain_head (id, last_event_id, last_hash, count) "
                    "VALUES (1, 0, :g, 0)"
                ),
                {"g": "0" * 64},
            )
            conn.execute(text("INSERT INTO bank_change_head (id, seq) VALUES (1, 0)"))
    engine.dispose()


@pytest.fixture(autouse=True)
def _logging_restored() -> Iterator[None]:
    """Commands under test may set up logging (``jobs run``, ``serve``): to INFO, on the
    stderr of the moment. That must not outlast the test, or the next command's output
    (stdout and stderr together, as CliRunner keeps them) carries log lines."""
    root = logging.getLogger("shieldwall")
    saved = (root.handlers[:], root.level, root.propagate)
    yield
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])
    root.propagate = saved[2]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "shieldwall.db"
    db = Database(f"sqlite:///{path}")
    migrate.upgrade(db.engine)
    db.dispose()  # closing the last connection checkpoints the WAL into the file
    assert not path.with_name(path.name + "-wal").exists()
    return path


@pytest.fixture(scope="session")
def _pg_migrated() -> Iterator[None]:
    if PG_URL:
        reset_postgres(PG_URL, schema=True)
        db = Database(PG_URL)
        migrate.upgrade(db.engine)
        db.dispose()
    return


_schema_dirty = False


def mark_schema_dirty() -> None:
    """A test changed the schema itself (dropped a trigger...): rebuild it before the next."""
    global _schema_dirty
    _schema_dirty = True


@pytest.fixture
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    global _schema_dirty
    if PG_URL:
        request.getfixturevalue("_pg_migrated")
        if _schema_dirty:
            reset_postgres(PG_URL, schema=True)
            db = Database(PG_URL)
            migrate.upgrade(db.engine)
            db.dispose()
            _schema_dirty = False
        else:
            reset_postgres(PG_URL, schema=False)
        return PG_URL
    template: Path = request.getfixturevalue("sqlite_template")
    target = tmp_path / "shieldwall.db"
    shutil.copyfile(template, target)
    return f"sqlite:///{target}"


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(
        data_dir=tmp_path,
        database_url=database_url,
        secret_key="test-secret-key-not-for-production",
        login_max_failures=3,
        login_lockout_minutes=10,
        max_body_bytes=64 * 1024,
    )


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    database = Database(settings.effective_database_url)
    yield database
    database.dispose()


@pytest.fixture
def app(settings: Settings, db: Database) -> FastAPI:
    return create_app(settings, database=db)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    # https, so Secure cookies are sent back as a browser would
    with TestClient(app, base_url="https://testserver", raise_server_exceptions=False) as c:
        wait_for_index(app)
        yield c


def wait_for_index(app: FastAPI, timeout: float = 15.0) -> None:
    """The matching index loads in the background after start-up; wait for it."""
    deadline = time.monotonic() + timeout
    while not app.state.match_index.readiness()[0]:
        if time.monotonic() > deadline:
            raise AssertionError(f"index not ready: {app.state.match_index.readiness()[1]}")
        time.sleep(0.02)


def wait_for_sync(app: FastAPI, timeout: float = 15.0) -> None:
    """Until the server's matching index is ready and holds every bank change committed
    so far (its watermark has reached the change head read now)."""
    index = app.state.match_index
    with index.db.session() as session:
        head = current_seq(session)
    deadline = time.monotonic() + timeout
    while not (index.readiness()[0] and index.watermark >= head):
        if time.monotonic() > deadline:
            raise AssertionError(f"index did not catch up to change {head}: {index.readiness()[1]}")
        time.sleep(0.02)


def make_user(db: Database, username: str, role: Role, password: str = PASSWORD) -> User:
    with db.session() as session:
        return users.create_user(
            session, UserCreate(username=username, password=password, role=role), actor=SYSTEM
        )


@pytest.fixture
def admin(db: Database) -> User:
    return make_user(db, "root", Role.ADMIN)


KeyFactory = Callable[..., str]


@pytest.fixture
def make_key(db: Database, admin: User) -> KeyFactory:
    """``make_key(scopes, kind=..., owner=user)`` -> the plain key."""

    def factory(
        scopes: list[Scope] | None = None,
        *,
        kind: KeyKind = KeyKind.PERSONAL,
        owner: User | None = None,
        name: str = "test key",
    ) -> str:
        owner = owner or admin
        if scopes is None:
            scopes = list(Scope) if kind is KeyKind.PERSONAL else [Scope.SCAN]
        with db.session() as session:
            _, plain = apikeys.create_key(
                session,
                ApiKeyCreate(name=name, kind=kind, scopes=scopes, owner_id=owner.id),
                actor=SYSTEM,
            )
        return plain

    return factory


@pytest.fixture
def admin_key(make_key: KeyFactory) -> str:
    return make_key()


def cli_settings(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    """Point the CLI (which reads the environment) at this test's data folder and
    database, and at nothing else of the environment's ``SHIELDWALL_*`` settings."""
    for name in list(os.environ):
        if name.startswith("SHIELDWALL_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("SHIELDWALL_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("SHIELDWALL_DATABASE_URL", settings.effective_database_url)


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@dataclass
class LiveServer:
    url: str
    app: FastAPI
    db: Database


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def live_server(app: FastAPI, db: Database) -> Iterator[LiveServer]:
    """The app behind a real uvicorn HTTP server on a free loopback port."""
    port = _free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield LiveServer(url=f"http://127.0.0.1:{port}", app=app, db=db)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
