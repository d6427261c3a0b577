"""Two real server processes sharing one database stay consistent.

The issue's requirement: "an added or removed entry is visible to lookups in every server
process within 10 seconds", tested with two processes. Each process is
``uvicorn shieldwall.cli.serve:app_factory`` with its own data folder (so its own saved
index) and a 0.5 s poll; the database is the test database (SQLite file, or PostgreSQL in
CI). Measured delays are printed (``pytest -s``) and named in every assertion message.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from shieldwall.core.signals import PdqSignal
from tests.conftest import KeyFactory, auth

LIMIT_SECONDS = 10.0
STARTUP_SECONDS = 40.0
VALUE = PdqSignal.get_examples()[0]
LOOKUP = {"signals": [{"signal_type": "pdq", "value": VALUE}]}


@dataclass
class Server:
    name: str
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def log_tail(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-3000:]
        except OSError:
            return ""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(name: str, database_url: str, data_dir: Path, workdir: Path) -> Server:
    data_dir.mkdir()
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIELDWALL_")}
    env.update(
        {
            "SHIELDWALL_DATABASE_URL": database_url,
            "SHIELDWALL_DATA_DIR": str(data_dir),
            "SHIELDWALL_SECRET_KEY": "two-process-test-secret-key",
            "SHIELDWALL_INDEX_POLL_SECONDS": "0.5",
            "SHIELDWALL_LOG_LEVEL": "warning",
        }
    )
    log = workdir / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "shieldwall.cli.serve:app_factory",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            cwd=workdir,  # no stray ./shieldwall.toml
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return Server(name, f"http://127.0.0.1:{port}", process, log)


def _stop(server: Server) -> None:
    if server.process.poll() is None:
        server.process.terminate()
        try:
            server.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(timeout=10)


def _wait_ready(servers: list[Server]) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    pending = list(servers)
    while pending:
        for server in list(pending):
            if server.process.poll() is not None:
                pytest.fail(f"server {server.name} exited early:\n{server.log_tail()}")
            try:
                if httpx.get(f"{server.url}/readyz", timeout=2).status_code == 200:
                    pending.remove(server)
            except httpx.HTTPError:
                pass
        if pending and time.monotonic() > deadline:
            tails = "\n".join(f"--- {s.name}:\n{s.log_tail()}" for s in pending)
            pytest.fail(f"not ready within {STARTUP_SECONDS:.0f}s: {tails}")
        time.sleep(0.1)


@pytest.fixture
def servers(database_url: str, tmp_path: Path, make_key: KeyFactory) -> Iterator[list[Server]]:
    make_key()  # the key's owner and tables exist before the servers start
    started: list[Server] = []
    try:
        for name in ("a", "b"):
            started.append(_start(name, database_url, tmp_path / f"data-{name}", tmp_path))
        _wait_ready(started)
        yield started
    finally:
        for server in started:
            _stop(server)


def _matches(client: httpx.Client, server: Server, key: str) -> list[int]:
    response = client.post(f"{server.url}/v1/lookup", json=LOOKUP, headers=auth(key))
    assert response.status_code == 200, f"{server.name}: {response.text}"
    return [m["entry_id"] for m in response.json()["matches"]]


def _time_until(check: Callable[[], bool], what: str) -> float:
    """Seconds until ``check()`` holds, polling every 50 ms; fails after LIMIT_SECONDS."""
    started = time.monotonic()
    while not check():
        waited = time.monotonic() - started
        if waited > LIMIT_SECONDS:
            pytest.fail(f"{what}: not visible after {waited:.2f}s (limit {LIMIT_SECONDS:.0f}s)")
        time.sleep(0.05)
    return time.monotonic() - started


def test_changes_reach_every_process_within_ten_seconds(
    servers: list[Server], make_key: KeyFactory
) -> None:
    a, b = servers
    key = make_key(name="two processes")
    with httpx.Client(timeout=5) as http:
        created = http.post(f"{a.url}/v1/banks", json={"name": "SHARED"}, headers=auth(key))
        assert created.status_code == 201, created.text
        assert _matches(http, a, key) == []
        assert _matches(http, b, key) == []

        # added through A ...
        added = http.post(
            f"{a.url}/v1/banks/SHARED/entries",
            json={"signal_type": "pdq", "value": VALUE},
            headers=auth(key),
        )
        assert added.status_code in (200, 201), added.text
        entry = added.json()["items"][0]["id"]
        add_delay = _time_until(lambda: _matches(http, b, key) == [entry], "add via A, on B")
        own_delay = _time_until(lambda: _matches(http, a, key) == [entry], "add via A, on A")

        # ... removed through B
        removed = http.delete(f"{b.url}/v1/banks/SHARED/entries/{entry}", headers=auth(key))
        assert removed.status_code == 200, removed.text
        remove_delay = _time_until(lambda: _matches(http, a, key) == [], "removal via B, on A")
        _time_until(lambda: _matches(http, b, key) == [], "removal via B, on B")

        # and both agree on everything afterwards
        for server in (a, b):
            assert http.get(f"{server.url}/readyz").status_code == 200
        assert _matches(http, a, key) == _matches(http, b, key) == []
        banks_a = http.get(f"{a.url}/c/banks", headers=auth(key)).json()
        banks_b = http.get(f"{b.url}/c/banks", headers=auth(key)).json()
        assert banks_a == banks_b == [{"name": "SHARED", "matching_enabled_ratio": 1.0}]

    print(
        f"\ncross-process delays: add A->B {add_delay:.2f}s, add A->A {own_delay:.2f}s, "
        f"remove B->A {remove_delay:.2f}s (poll 0.5s, limit {LIMIT_SECONDS:.0f}s)"
    )
    assert max(add_delay, remove_delay) < LIMIT_SECONDS, (
        f"add A->B {add_delay:.2f}s, remove B->A {remove_delay:.2f}s"
    )
    for server in servers:
        assert server.process.poll() is None, f"{server.name} died:\n{server.log_tail()}"
