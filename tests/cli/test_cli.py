"""The ``shieldwall`` command, driven through Typer's test runner against a SQLite file."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from sqlalchemy.orm import Session
from typer.testing import CliRunner, Result

from shieldwall import __version__
from shieldwall.apikeys import repository as apikeys_repository
from shieldwall.apikeys import service as apikeys_service
from shieldwall.audit import repository as audit_repository
from shieldwall.cli import app
from shieldwall.cli import serve as serve_module
from shieldwall.core.access import Scope
from shieldwall.core.errors import AuthenticationRequired
from shieldwall.db import migrate
from shieldwall.db.engine import Database
from shieldwall.users import passwords
from shieldwall.users import repository as users_repository

KEY_PATTERN = re.compile(r"sw_[a-z2-7]{10}_[A-Za-z0-9_-]{20,}")
GOOD_PASSWORD = "correct horse battery"


@dataclass
class CliEnv:
    root: Path
    data_dir: Path
    db_file: Path

    @property
    def url(self) -> str:
        return f"sqlite:///{self.db_file.as_posix()}"

    @contextmanager
    def session(self) -> Iterator[Session]:
        db = Database(self.url)
        try:
            with db.session() as session:
                yield session
        finally:
            db.dispose()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliEnv:
    for name in list(os.environ):
        if name.startswith("SHIELDWALL_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no stray ./shieldwall.toml
    cli_env = CliEnv(tmp_path, tmp_path / "data", tmp_path / "cli.db")
    monkeypatch.setenv("SHIELDWALL_DATA_DIR", str(cli_env.data_dir))
    monkeypatch.setenv("SHIELDWALL_DATABASE_URL", cli_env.url)
    monkeypatch.setenv("COLUMNS", "200")  # wide Rich tables: cells are not wrapped
    return cli_env


def run(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(app, list(args), input=input)


def ok(*args: str, input: str | None = None) -> Result:
    result = run(*args, input=input)
    assert result.exit_code == 0, result.output
    return result


def create_user(username: str, role: str = "admin", password: str = GOOD_PASSWORD) -> Result:
    return ok("user", "create", username, "--role", role, "--password-stdin",
              input=password + "\n")


# ---- global -------------------------------------------------------------------------------


def test_version_and_help_list_every_group(env: CliEnv) -> None:
    assert ok("--version").output.strip() == f"shieldwall {__version__}"
    help_text = ok("--help").output
    for group in ("serve", "db", "user", "apikey", "audit", "config", "demo"):
        assert group in help_text
    assert "Examples" in ok("apikey", "create", "--help").output


# ---- db -----------------------------------------------------------------------------------


def test_db_upgrade_then_current(env: CliEnv) -> None:
    before = run("db", "current")
    assert before.exit_code == 1
    assert "empty" in before.output
    assert "shieldwall db upgrade" in before.output

    assert "upgraded" in ok("db", "upgrade").output
    current = ok("db", "current").output
    db = Database(env.url)
    try:
        head = migrate.head_revision(db.engine)
        assert migrate.current_revision(db.engine) == head
    finally:
        db.dispose()
    assert f"current: {head}" in current
    assert "nothing to do" in ok("db", "upgrade").output


def test_db_downgrade_asks_first(env: CliEnv) -> None:
    ok("db", "upgrade")
    refused = run("db", "downgrade", "base", input="n\n")
    assert refused.exit_code == 1
    ok("db", "current")  # still current: nothing was dropped

    ok("db", "downgrade", "base", "--yes")
    assert run("db", "current").exit_code == 1


# ---- user ---------------------------------------------------------------------------------


def test_user_create_from_stdin_then_list(env: CliEnv) -> None:
    created = create_user("alice", "admin")
    assert "created user alice" in created.output
    ok("user", "create", "bob", "--role", "reviewer", "--display-name", "Bob B",
       "--password-stdin", input="another long password\n")

    listing = ok("user", "list").output
    assert re.search(r"alice\s.*admin\s.*active", listing)
    assert re.search(r"bob\s.*Bob B\s.*reviewer", listing)
    with env.session() as session:
        alice = users_repository.get_user_by_username(session, "alice")
        assert alice is not None
        assert passwords.verify_password(alice.password_hash, GOOD_PASSWORD)


def test_user_create_prompts_for_the_password_twice(env: CliEnv) -> None:
    ok("user", "create", "carol", "--role", "analyst",
       input=f"{GOOD_PASSWORD}\n{GOOD_PASSWORD}\n")
    with env.session() as session:
        carol = users_repository.get_user_by_username(session, "carol")
        assert carol is not None
        assert carol.role == "analyst"
        assert passwords.verify_password(carol.password_hash, GOOD_PASSWORD)


def test_too_short_password_is_refused_and_creates_nothing(env: CliEnv) -> None:
    ok("db", "upgrade")
    result = run("user", "create", "dave", "--role", "admin", "--password-stdin",
                 input="short\n")
    assert result.exit_code == 2
    assert "error: password must be at least 12 characters" in result.output
    assert "Traceback" not in result.output
    with env.session() as session:
        assert users_repository.count_users(session) == 0
        assert audit_repository.count_events(session) == 0


def test_user_changes_go_through_the_service_rules(env: CliEnv) -> None:
    create_user("alice", "admin")
    create_user("bob", "analyst")

    last_admin = run("user", "deactivate", "alice")
    assert last_admin.exit_code == 2
    assert "last active admin" in last_admin.output

    ok("user", "set-role", "bob", "admin")
    ok("user", "deactivate", "alice")
    ok("user", "set-password", "bob", "--password-stdin", input="a brand new password\n")
    with env.session() as session:
        bob = users_repository.get_user_by_username(session, "bob")
        alice = users_repository.get_user_by_username(session, "alice")
        assert bob is not None
        assert alice is not None
        assert bob.role == "admin"
        assert not alice.is_active
        assert passwords.verify_password(bob.password_hash, "a brand new password")
    assert re.search(r"alice\s.*deactivated", ok("user", "list").output)

    missing = run("user", "unlock", "nobody")
    assert missing.exit_code == 2
    assert "error: no user named 'nobody'" in missing.output


# ---- apikey -------------------------------------------------------------------------------


def test_apikey_create_prints_a_working_key_once(env: CliEnv) -> None:
    create_user("alice", "admin")

    no_owner = run("apikey", "create", "--name", "uploads", "--scope", "scan")
    assert no_owner.exit_code == 2
    assert "--owner is required" in no_owner.output

    created = ok("apikey", "create", "--name", "uploads", "--scope", "scan", "--owner", "alice")
    assert "cannot be shown again" in created.output
    plain = created.stdout.strip()  # the key alone goes to stdout
    assert KEY_PATTERN.fullmatch(plain), created.stdout
    with env.session() as session:
        principal = apikeys_service.authenticate(session, plain)
        assert principal.scopes == frozenset({Scope.SCAN})

    prefix = plain.split("_")[1]
    secret = plain.split("_", 2)[2]
    listing = ok("apikey", "list").output
    assert prefix in listing
    assert "uploads" in listing
    assert secret not in listing

    ok("apikey", "revoke", prefix)
    with env.session() as session, pytest.raises(AuthenticationRequired, match="revoked"):
        apikeys_service.authenticate(session, plain)
    assert prefix not in ok("apikey", "list").output
    assert re.search(rf"{prefix}\s.*revoked", ok("apikey", "list", "--all").output)

    again = run("apikey", "revoke", "1")
    assert again.exit_code == 2
    assert "already revoked" in again.output


def test_apikey_scopes_and_expiry_are_checked(env: CliEnv) -> None:
    create_user("alice", "admin")
    refused = run("apikey", "create", "--name", "x", "--scope", "users:manage",
                  "--owner", "alice")
    assert refused.exit_code == 2
    assert "integration keys may hold only" in refused.output

    created = ok("apikey", "create", "--name", "laptop", "--kind", "personal",
                 "--scope", "cases:read", "--owner", "alice", "--expires-days", "30")
    with env.session() as session:
        keys = apikeys_repository.list_keys(session)
        assert [k.kind for k in keys] == ["personal"]
        assert keys[0].expires_at is not None
    assert "expires at" in created.output


# ---- audit --------------------------------------------------------------------------------


def test_audit_verify_detects_an_edited_event(env: CliEnv) -> None:
    for name in ("alice", "bob", "carol"):
        create_user(name, "admin")
    good = ok("audit", "verify")
    assert "OK: 3 event(s)" in good.output
    head = re.search(r"head hash: ([0-9a-f]{64})", good.output)
    assert head is not None
    create_user("dave", "analyst")  # new events do not disturb an anchor
    ok("audit", "verify", "--anchor", head.group(1))

    conn = sqlite3.connect(env.db_file)
    try:
        conn.execute("DROP TRIGGER events_no_update")
        conn.execute("UPDATE events SET payload = ? WHERE id = 2", ('{"role": "analyst"}',))
        conn.commit()
    finally:
        conn.close()

    broken = run("audit", "verify")
    assert broken.exit_code == 1
    assert "BROKEN at event 2" in broken.output
    assert "changed after it was written" in broken.output


def test_audit_verify_anchor_catches_a_rewritten_chain(env: CliEnv) -> None:
    create_user("alice", "admin")
    forged = "ab" * 32  # a head recorded earlier that the current chain does not contain
    result = run("audit", "verify", "--anchor", forged)
    assert result.exit_code == 1
    assert "is not in it any more" in result.output
    assert forged in result.output


# ---- config -------------------------------------------------------------------------------


def test_config_show_masks_secrets(env: CliEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "do-not-print-this-secret-value"
    monkeypatch.setenv("SHIELDWALL_SECRET_KEY", secret)
    table = ok("config", "show").output
    assert secret not in table
    assert re.search(r"secret_key\s+│?\s*\*{8}", table)
    assert str(env.data_dir) in table

    shown: dict[str, Any] = json.loads(ok("config", "show", "--json").stdout)
    assert shown["secret_key"] == "********"
    assert shown["database_url"] == env.url
    assert secret not in json.dumps(shown)


def test_config_show_names_a_bad_setting(env: CliEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHIELDWALL_PORT", "99999")
    result = run("config", "show")
    assert result.exit_code == 2
    assert "error: invalid settings: port" in result.output


# ---- demo ---------------------------------------------------------------------------------


def read_file(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines())


def test_demo_seed_is_idempotent(env: CliEnv) -> None:
    first = ok("demo", "seed")
    path = env.data_dir / "demo-credentials.txt"
    saved = read_file(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().splitlines()[:2] == [
        "username=admin", f"password={saved['password']}",
    ]
    assert f"demo login: admin / {saved['password']}" in first.output
    with env.session() as session:
        after_first = audit_repository.count_events(session)

    second = ok("demo", "seed")
    assert read_file(path) == saved
    assert "nothing changed" in second.output
    assert f"demo login: admin / {saved['password']}" in second.output

    with env.session() as session:
        users = {u.username: u for u in users_repository.list_users(session)}
        assert {name: u.role for name, u in users.items()} == {
            "admin": "admin", "demo-reviewer": "reviewer", "demo-analyst": "analyst",
        }
        assert passwords.verify_password(users["admin"].password_hash, saved["password"])
        assert passwords.verify_password(
            users["demo-reviewer"].password_hash, saved["reviewer_password"]
        )
        keys = apikeys_repository.list_keys(session)
        assert [(k.name, k.scopes, k.kind) for k in keys] == [
            ("demo upload service", ["scan"], "integration"),
        ]
        principal = apikeys_service.authenticate(session, saved["api_key"])
        assert principal.scopes == frozenset({Scope.SCAN})
        # 3 users, 1 key, the demo bank and its entries, the transparency demo activity:
        # all once (the second seed wrote nothing)
        assert audit_repository.count_events(session) == after_first
        kinds = {e.kind for e in audit_repository.list_events(session, limit=1000)}
        assert {"user.created", "apikey.created", "bank.created", "case.decided"} <= kinds
    ok("audit", "verify")


def test_demo_seed_refuses_to_guess_a_lost_password(env: CliEnv) -> None:
    ok("demo", "seed")
    (env.data_dir / "demo-credentials.txt").unlink()
    result = run("demo", "seed")
    assert result.exit_code == 2
    assert "its password is not in" in result.output


# ---- serve --------------------------------------------------------------------------------


@pytest.fixture
def uvicorn_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, dict[str, Any]]]:
    calls: list[tuple[Any, dict[str, Any]]] = []
    monkeypatch.setattr(uvicorn, "run",
                        lambda target, **kwargs: calls.append((target, kwargs)))
    return calls


def test_serve_refuses_an_unmigrated_database_without_auto_migrate(
    env: CliEnv, monkeypatch: pytest.MonkeyPatch, uvicorn_calls: list[Any]
) -> None:
    monkeypatch.setenv("SHIELDWALL_AUTO_MIGRATE", "false")
    result = run("serve")
    assert result.exit_code != 0
    assert "shieldwall db upgrade" in result.output
    assert "error:" in result.output
    assert "Traceback" not in result.output
    assert uvicorn_calls == []


def test_serve_migrates_sqlite_prints_the_url_and_demo_login(
    env: CliEnv, monkeypatch: pytest.MonkeyPatch, uvicorn_calls: list[Any]
) -> None:
    ok("demo", "seed")
    password = read_file(env.data_dir / "demo-credentials.txt")["password"]
    result = ok("serve", "--port", "8123")
    assert "http://127.0.0.1:8123" in result.output
    assert f"admin / {password}" in result.output
    [(target, kwargs)] = uvicorn_calls
    assert kwargs["port"] == 8123
    assert kwargs["log_level"] == "info"
    assert target.state.settings.port == 8123

    # Several workers: an import string and settings passed on through the environment.
    monkeypatch.setenv("SHIELDWALL_HOST", "127.0.0.1")  # restored after the test
    monkeypatch.setenv("SHIELDWALL_PORT", "8000")
    ok("serve", "--host", "0.0.0.0", "--port", "9001", "--workers", "2")  # noqa: S104
    target, kwargs = uvicorn_calls[1]
    assert target == "shieldwall.cli.serve:app_factory"
    assert kwargs["factory"] is True
    assert kwargs["workers"] == 2
    assert os.environ["SHIELDWALL_HOST"] == "0.0.0.0"  # noqa: S104
    assert os.environ["SHIELDWALL_PORT"] == "9001"
    built = serve_module.app_factory()
    try:
        assert built.state.settings.port == 9001
        assert built.state.settings.host == "0.0.0.0"  # noqa: S104
    finally:
        built.state.db.dispose()
