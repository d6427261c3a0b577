"""/healthz and /readyz, including a database that goes away and comes back."""

from __future__ import annotations

import contextlib
import shutil
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url

from shieldwall.api import create_app
from shieldwall.config import Settings
from shieldwall.core.errors import DatabaseNotMigrated
from shieldwall.db.engine import Database
from tests.api.problem_check import assert_problem
from tests.conftest import PG_URL, KeyFactory, auth, wait_for_index
from tests.local_http import copy_until_closed

SECRET = "test-secret-key-not-for-production"


def test_healthz(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_when_ready(client: TestClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert body["checks"]["database"] == {"ok": True, "detail": "ok"}


def test_readyz_503_when_schema_is_not_current(unmigrated_client: TestClient) -> None:
    body = assert_problem(unmigrated_client.get("/readyz"), 503, "service-unavailable")
    assert body["checks"]["database"]["ok"] is False
    assert "not current" in body["checks"]["database"]["detail"]
    assert "database" in body["detail"]
    # liveness is a different question: the process is up
    assert unmigrated_client.get("/healthz").status_code == 200


def test_create_app_refuses_an_unmigrated_database(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path}/empty.db",
                        secret_key=SECRET, auto_migrate=False)
    database = Database(settings.effective_database_url)
    try:
        with pytest.raises(DatabaseNotMigrated, match="shieldwall db upgrade"):
            create_app(settings, database=database)
    finally:
        database.dispose()


def test_create_app_migrates_an_empty_sqlite_file_when_allowed(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path}/fresh.db",
                        secret_key=SECRET)
    database = Database(settings.effective_database_url)
    try:
        app = create_app(settings, database=database)
        with TestClient(app, base_url="https://testserver") as client:
            wait_for_index(app)
            assert client.get("/readyz").status_code == 200
    finally:
        database.dispose()


# ---- the database goes away and comes back --------------------------------------------------


def _ready(client: TestClient) -> bool:
    response = client.get("/readyz")
    if response.status_code == 200:
        return True
    body = assert_problem(response, 503, "service-unavailable")
    assert body["checks"]["database"]["ok"] is False
    return False


def _sqlite_app(tmp_path: Path, template: Path) -> tuple[FastAPI, Database, Path]:
    folder = tmp_path / "dbdir"
    folder.mkdir()
    path = folder / "shieldwall.db"
    shutil.copyfile(template, path)
    settings = Settings(data_dir=tmp_path, database_url=f"sqlite:///{path}", secret_key=SECRET)
    database = Database(settings.effective_database_url)
    return create_app(settings, database=database), database, path


@pytest.mark.skipif(bool(PG_URL), reason="SQLite variant; the PostgreSQL run uses the proxy test")
@pytest.mark.parametrize("what_moves", ["file", "folder"])
def test_sqlite_goes_away_and_comes_back(
    tmp_path: Path, sqlite_template: Path, what_moves: str
) -> None:
    app, database, path = _sqlite_app(tmp_path, sqlite_template)
    away = tmp_path / "away"
    away.mkdir()
    try:
        with TestClient(app, base_url="https://testserver",
                        raise_server_exceptions=False) as client:
            wait_for_index(app)
            assert _ready(client)

            # Move first, then drop the pool's idle connections. The other way round, a
            # background thread (index, outbox, scheduler) could open a connection between
            # the two steps and keep the moved file open through it.
            if what_moves == "folder":
                shutil.move(path.parent, away / "dbdir")
            else:
                for f in path.parent.glob(path.name + "*"):
                    shutil.move(f, away / f.name)
            database.engine.dispose()
            assert not _ready(client)
            detail = client.get("/readyz").json()["checks"]["database"]["detail"]
            if what_moves == "folder":
                assert "unreachable" in detail
            else:  # SQLite opens a new, empty file in its place
                assert "not current" in detail

            database.engine.dispose()
            if what_moves == "folder":
                shutil.move(away / "dbdir", path.parent)
            else:
                # SQLite may have created an empty file in its place: clear it away first
                for f in path.parent.glob(path.name + "*"):
                    f.unlink()
                for f in away.iterdir():
                    shutil.move(f, path.parent / f.name)
            database.engine.dispose()
            assert _ready(client)
    finally:
        database.dispose()


class TcpProxy:
    """A loopback TCP relay that can be cut (listener and live connections closed) and
    reopened on the same port, to play a database that goes away and comes back."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.port = 0
        self._stop = threading.Event()
        self._listener: socket.socket | None = None
        self._acceptor: threading.Thread | None = None
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(32)
        listener.settimeout(0.1)
        self.port = listener.getsockname()[1]
        self._stop.clear()
        self._listener = listener
        self._acceptor = threading.Thread(target=self._accept, args=(listener,), daemon=True)
        self._acceptor.start()

    def stop(self) -> None:
        self._stop.set()
        if self._acceptor is not None:
            self._acceptor.join(timeout=5)
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            _close(sock)

    def _accept(self, listener: socket.socket) -> None:
        while not self._stop.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                _close(client)
                continue
            client.settimeout(None)
            upstream.settimeout(None)
            with self._lock:
                self._sockets += [client, upstream]
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pump, args=(src, dst), daemon=True).start()


def _pump(src: socket.socket, dst: socket.socket) -> None:
    try:
        copy_until_closed(src, dst)
    finally:
        _close(src)
        _close(dst)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


@pytest.fixture
def proxied_pg_app(db: Database, tmp_path: Path) -> Iterator[tuple[TestClient, TcpProxy]]:
    """The app on PostgreSQL reached through a TcpProxy. ``db`` prepares the database."""
    real = make_url(PG_URL)
    proxy = TcpProxy((real.host or "127.0.0.1", real.port or 5432))
    proxy.start()
    url = real.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    settings = Settings(data_dir=tmp_path, database_url=url, secret_key=SECRET)
    database = Database(url, connect_args={"connect_timeout": 5})
    try:
        app = create_app(settings, database=database)
        with TestClient(app, base_url="https://testserver",
                        raise_server_exceptions=False) as client:
            wait_for_index(app)
            yield client, proxy
    finally:
        proxy.stop()
        database.dispose()


@pytest.mark.skipif(not PG_URL, reason="needs SHIELDWALL_TEST_DATABASE_URL (PostgreSQL)")
def test_postgres_goes_away_and_comes_back(
    proxied_pg_app: tuple[TestClient, TcpProxy], make_key: KeyFactory
) -> None:
    client, proxy = proxied_pg_app
    key = make_key()
    assert _ready(client)
    assert client.get("/v1/me", headers=auth(key)).status_code == 200
    port = proxy.port

    proxy.stop()
    assert not _ready(client)
    assert not _ready(client)
    during = client.get("/v1/me", headers=auth(key))
    assert during.status_code == 503  # retry later, not a crash
    assert during.json()["type"] == "/problems/service-unavailable"
    assert during.headers["content-type"].startswith("application/problem+json")
    assert "Traceback" not in during.text

    proxy.start()
    assert proxy.port == port
    assert _ready(client)
    assert client.get("/v1/me", headers=auth(key)).status_code == 200


@pytest.mark.skipif(bool(PG_URL), reason="SQLite variant")
def test_api_call_while_sqlite_is_away_is_a_problem_not_a_crash(
    tmp_path: Path, sqlite_template: Path
) -> None:
    app, database, path = _sqlite_app(tmp_path, sqlite_template)
    try:
        with TestClient(app, base_url="https://testserver",
                        raise_server_exceptions=False) as client:
            # Move, then dispose: see test_sqlite_goes_away_and_comes_back.
            shutil.move(path.parent, tmp_path / "gone")
            database.engine.dispose()
            response = client.get("/v1/me", headers=auth("sw_abcdefghij_" + "s" * 43))
            assert response.status_code == 503
            assert response.json()["type"] == "/problems/service-unavailable"
            assert response.headers["content-type"].startswith("application/problem+json")
            assert response.json()["request_id"] == response.headers["x-request-id"]
            assert "Traceback" not in response.text
    finally:
        database.dispose()
