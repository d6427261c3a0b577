"""``shieldwall text`` and ``shieldwall terms`` through Typer's test runner."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner, Result

from shieldwall.cli import app
from shieldwall.config import Settings
from shieldwall.core.sealing import seal
from shieldwall.core.text import term_hash
from shieldwall.db.engine import Database
from shieldwall.textsignals.models import Conversation, ConversationMessage

pytestmark = pytest.mark.db


@pytest.fixture(autouse=True)
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("SHIELDWALL_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SHIELDWALL_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("SHIELDWALL_DATABASE_URL", settings.effective_database_url)
    monkeypatch.setenv("COLUMNS", "200")


def run(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(app, list(args), input=input)


def ok(*args: str, input: str | None = None) -> Result:
    result = run(*args, input=input)
    assert result.exit_code == 0, result.output
    return result


def test_terms_import_check_export_delete(tmp_path: Path, db: Database) -> None:
    path = tmp_path / "terms.csv"
    path.write_text(
        "kind,value,category,severity\n"
        "term,zorblax,csam_seeking,high\n"
        "regex,(a+)+$,csam_seeking,high\n"
        "phrase,quux feed,solicitation,medium\n",
        encoding="utf-8",
    )
    result = ok("terms", "import", "SEARCH", str(path), "--create")
    assert "2 added" in result.output
    assert "line 3: nested quantifiers" in result.output
    assert "SEARCH" in ok("terms", "list").output

    checked = json.loads(ok("text", "check", "--json", "find Z0RBLAX now").output)
    assert checked["search_decision"] == "block"
    assert checked["matches"][0]["start"] == 5
    assert checked["normalised"] == "find zorblax now"

    out = tmp_path / "out.jsonl"
    ok("terms", "export", "SEARCH", "--format", "jsonl", "-o", str(out))
    assert len(out.read_text().splitlines()) == 2
    ok("terms", "delete", "SEARCH", "--yes")
    assert run("terms", "export", "SEARCH").exit_code == 2  # gone: a clear error


def test_text_check_reads_stdin_and_works_offline() -> None:
    result = ok("text", "check", "--offline", input="hey, t'as quel âge ? ajoute moi sur snap\n")
    assert "indicator: age_question" in result.output
    assert "indicator: platform_move" in result.output
    assert ok("text", "hash", "Zorblax").output.strip() == term_hash("zorblax")


def test_terms_import_of_an_unknown_list_or_binary_file_fails_cleanly(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(b"\x00\x01\x02binary")
    assert run("terms", "import", "NOPE", str(path)).exit_code == 2
    ok("terms", "create", "L")
    result = run("terms", "import", "L", str(path))
    assert result.exit_code == 2
    assert "nothing was imported" in result.output


def test_text_purge_deletes_only_old_unpreserved_texts(db: Database, settings: Settings) -> None:
    old = datetime.now(UTC) - timedelta(hours=settings.conversation_retention_hours + 1)
    keyring = settings.resolved_keyring()
    with db.session() as s:
        conv = Conversation(ref="c", participants={}, indicators=[], score=0.0)
        s.add(conv)
        s.flush()
        for ref, received, preserved in [
            ("old", old, False),
            ("kept", old, True),
            ("new", None, False),
        ]:
            row = ConversationMessage(
                conversation_id=conv.id,
                message_ref=ref,
                sender_ref="a",
                recipient_refs=["b"],
                sent_at=old,
                sealed_text=seal(b"x", keyring),
                indicators=[],
                preserved=preserved,
            )
            if received is not None:
                row.received_at = received
            s.add(row)
    assert "deleted 1 message" in ok("text", "purge").output
    with db.session() as s:
        left = sorted(m.message_ref for m in s.scalars(select(ConversationMessage)))
    assert left == ["kept", "new"]
