"""``shieldwall media`` and ``shieldwall classifiers`` through Typer's runner (SQLite file)."""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from shieldwall.cli import app
from shieldwall.config import Settings
from shieldwall.core.sealing import new_master_key_text
from shieldwall.db.base import utcnow
from shieldwall.db.engine import Database
from shieldwall.media import service
from shieldwall.media.models import MediaObject
from tests.integrations.classifiers.fake_service import FakeService, Reply
from tests.media.samples import marked, picture


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in list(os.environ):
        if name.startswith("SHIELDWALL_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SHIELDWALL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SHIELDWALL_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("COLUMNS", "200")
    return tmp_path


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def stored(seeds: tuple[int, ...], *, expired: int = 0) -> list[int]:
    """Store pictures through the service with the CLI's settings; expire the first ones."""
    settings = Settings()
    assert run("db", "upgrade").exit_code == 0
    db = Database(settings.effective_database_url)
    try:
        with db.session() as session:
            ids = [
                service.store(session, settings, picture(s), media_type="image/jpeg").id
                for s in seeds
            ]
            for media_id in ids[:expired]:
                row = session.get(MediaObject, media_id)
                assert row is not None
                row.retain_until = utcnow() - timedelta(seconds=1)
    finally:
        db.dispose()
    return ids


def test_media_purge(env: Path) -> None:
    stored((1, 2, 3), expired=2)
    result = run("media", "purge")
    assert result.exit_code == 0, result.output
    assert "purged 2 media object(s)" in result.output
    assert len(list((env / "data" / "media").iterdir())) == 1
    assert "purged 0 media object(s)" in run("media", "purge").output


def test_media_rotation_from_the_command_line(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    old, new = new_master_key_text(), new_master_key_text()
    monkeypatch.setenv("SHIELDWALL_MASTER_KEY", old)
    stored((4, 5))
    old_id = Settings().resolved_keyring().current_id.hex()
    assert run("media", "keys").output.strip() == f"{old_id} (current): 2"

    monkeypatch.setenv("SHIELDWALL_MASTER_KEY", new)
    monkeypatch.setenv("SHIELDWALL_PREVIOUS_MASTER_KEYS", json.dumps([old]))
    new_id = Settings().resolved_keyring().current_id.hex()
    assert run("media", "keys").output.strip() == f"{old_id}: 2"
    result = run("media", "rewrap")
    assert result.exit_code == 0, result.output
    assert "re-wrapped 2 media object(s)" in result.output
    assert run("media", "keys").output.strip() == f"{new_id} (current): 2"
    assert old not in result.output
    assert new not in result.output


def test_classifiers_list_shows_what_loads(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "SHIELDWALL_CLASSIFIERS",
        json.dumps(
            [
                {"name": "marker", "kind": "stand-in", "thresholds": {"marker": 0.3}},
                {"name": "broken", "kind": "no-such-kind"},
                {"name": "off", "kind": "stand-in", "enabled": False},
            ]
        ),
    )
    result = run("classifiers", "list")
    assert result.exit_code == 1
    assert "marker" in result.output
    assert "marker >= 0.3" in result.output
    assert "loaded" in result.output
    assert "NOT LOADED: unknown kind 'no-such-kind'" in result.output
    assert "disabled" in result.output


def test_classifiers_try_a_file(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    picture_file = env / "marked.png"
    picture_file.write_bytes(marked(0.5))
    with FakeService() as remote:
        remote.script(Reply(json_body={"score": 0.1}))
        monkeypatch.setenv(
            "SHIELDWALL_CLASSIFIERS",
            json.dumps(
                [
                    {"name": "marker", "kind": "stand-in", "thresholds": {"marker": 0.3}},
                    {"name": "remote", "url": remote.url, "thresholds": {"score": 0.5}},
                ]
            ),
        )
        result = run("classifiers", "try", str(picture_file))
    assert result.exit_code == 0, result.output
    outcome = json.loads(result.output)
    assert outcome["needs_review"] is True
    assert [(s["classifier"], s["over_threshold"]) for s in outcome["scores"]] == [
        ("marker", True),
        ("remote", False),
    ]
    assert outcome["errors"] == {}


def test_classifiers_try_without_classifiers_or_input(env: Path) -> None:
    assert "give a FILE or --url" in run("classifiers", "try").output
    (env / "x.bin").write_bytes(b"x")
    result = run("classifiers", "try", str(env / "x.bin"))
    assert result.exit_code == 1
    assert "no classifiers are configured" in result.output
