"""``shieldwall evidence`` through Typer's runner (SQLite file)."""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update
from typer.testing import CliRunner, Result

from shieldwall.cases import service as cases
from shieldwall.cases.schemas import Subject
from shieldwall.cli import app
from shieldwall.config import Settings
from shieldwall.core.sealing import new_master_key_text
from shieldwall.db.base import utcnow
from shieldwall.db.engine import Database
from shieldwall.evidence import service
from shieldwall.evidence.models import EvidenceItem
from shieldwall.media import service as media
from tests.cases.conftest import match_signal
from tests.conftest import SYSTEM
from tests.media.samples import picture


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


def preserved(*seeds: int, hash_only: int = 0, expired: int = 0) -> list[int]:
    """Preserve evidence for new cases with the CLI's settings; expire the first ones."""
    settings = Settings()
    assert run("db", "upgrade").exit_code == 0
    db = Database(settings.effective_database_url)
    ids = []
    try:
        with db.session() as s:
            for n, seed in enumerate(seeds):
                media_id = None
                if n >= hash_only:
                    media_id = media.store(s, settings, picture(seed), media_type="image/png").id
                case = cases.attach_signal(
                    s,
                    settings,
                    subject=Subject("content", f"post-{seed}", None),
                    signal=match_signal(seed, media_id=media_id),
                    actor=SYSTEM,
                )
                item = service.preserve(
                    s, settings, case_id=case.id, media_id=media_id, data={"seed": seed}
                )
                ids.append(item.id)
            s.execute(
                update(EvidenceItem)
                .where(EvidenceItem.id.in_(ids[:expired]))
                .values(retain_until=utcnow() - timedelta(seconds=1))
            )
    finally:
        db.dispose()
    return ids


def test_list_show_export_and_verify(env: Path) -> None:
    bare, held = preserved(1, 2, hash_only=1)
    listing = run("evidence", "list")
    assert listing.exit_code == 0, listing.output
    assert "no file held" in listing.output
    rows = json.loads(run("evidence", "list", "--json").output)
    assert [(r["id"], r["file_held"]) for r in rows] == [(bare, False), (held, True)]

    shown = json.loads(run("evidence", "show", str(held), "--data").output)
    assert shown["data"]["entries"][0]["data"] == {"seed": 2}
    assert shown["holds"] == []

    target = env / "out.bin"
    exported = run("evidence", "export", str(held), str(target))
    assert exported.exit_code == 0, exported.output
    assert target.read_bytes() == picture(2)
    assert oct(target.stat().st_mode & 0o777) == "0o600"
    assert run("evidence", "export", str(held), str(target)).exit_code != 0  # never overwrites
    refused = run("evidence", "export", str(bare), str(env / "bare.bin"))
    assert refused.exit_code != 0
    assert "holds no file" in refused.output

    ok = run("evidence", "verify")
    assert ok.exit_code == 0, ok.output
    assert "verified 2 evidence item(s)" in ok.output

    path = env / "data" / "evidence"
    (victim,) = list(path.iterdir())
    blob = bytearray(victim.read_bytes())
    blob[-1] ^= 0xFF
    victim.write_bytes(bytes(blob))
    bad = run("evidence", "verify")
    assert bad.exit_code == 1
    assert f"evidence {held} (content)" in bad.output
    assert "1 of 2 evidence item(s) failed verification" in bad.output


def test_hold_purge_release(env: Path) -> None:
    held, gone, kept = preserved(3, 4, 5, expired=2)
    assert run("evidence", "hold", str(held), "--reason", "matter 7").exit_code == 0
    assert run("evidence", "hold", str(held), "--reason", "again").exit_code != 0
    assert run("evidence", "hold", str(held)).exit_code != 0  # a reason is required
    result = run("evidence", "purge")
    assert result.exit_code == 0, result.output
    assert "purged 1 evidence item(s); 1 past retention kept under legal hold" in result.output
    ids = [r["id"] for r in json.loads(run("evidence", "list", "--json").output)]
    assert ids == [held, kept]
    assert run("evidence", "release", str(held), "--reason", "closed").exit_code == 0
    assert "purged 1 evidence item(s)" in run("evidence", "purge").output
    assert [r["id"] for r in json.loads(run("evidence", "list", "--json").output)] == [kept]
    assert gone not in ids


def test_rotate(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    old, new = new_master_key_text(), new_master_key_text()
    monkeypatch.setenv("SHIELDWALL_MASTER_KEY", old)
    preserved(6, 7)
    old_id = Settings().resolved_keyring().current_id.hex()
    monkeypatch.setenv("SHIELDWALL_MASTER_KEY", new)
    assert run("evidence", "verify").exit_code == 1  # the old key is not configured
    monkeypatch.setenv("SHIELDWALL_PREVIOUS_MASTER_KEYS", json.dumps([old]))
    new_id = Settings().resolved_keyring().current_id.hex()
    result = run("evidence", "rotate")
    assert result.exit_code == 0, result.output
    assert "re-wrapped 2 evidence item(s)" in result.output
    assert f"{new_id} (current): 2" in result.output
    assert old_id not in result.output
    monkeypatch.delenv("SHIELDWALL_PREVIOUS_MASTER_KEYS")
    assert run("evidence", "verify").exit_code == 0
