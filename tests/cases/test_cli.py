"""``shieldwall cases``: list, show, decide --as, confirm, purge-scans."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from shieldwall.cases import service
from shieldwall.cases.models import Case
from shieldwall.cli import app
from shieldwall.config import Settings
from shieldwall.db.engine import Database
from shieldwall.users.models import User
from tests.cases.conftest import OpenCase, match_signal

pytestmark = pytest.mark.db


@pytest.fixture(autouse=True)
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("SHIELDWALL_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SHIELDWALL_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("SHIELDWALL_DATABASE_URL", settings.effective_database_url)
    monkeypatch.setenv("SHIELDWALL_CASE_TWO_PERSON_LABELS", '["A1"]')
    monkeypatch.setenv("COLUMNS", "250")


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def ok(*args: str) -> Result:
    result = run(*args)
    assert result.exit_code == 0, result.output
    return result


def case_row(db: Database, case_id: int) -> Case:
    with db.session() as s:
        row = s.get(Case, case_id)
        assert row is not None
        s.expunge(row)
        return row


def test_list_and_show(db: Database, open_case: OpenCase) -> None:
    first = open_case("post-1", signal=match_signal(1, labels=("B2",)))
    second = open_case("post-2", signal=match_signal(2, labels=("A1",)))
    listed = ok("cases", "list").output
    assert listed.index("post-2") < listed.index("post-1")  # A1 first
    assert "bank_match_a1" in listed
    as_json = json.loads(ok("cases", "list", "--json").output)
    assert [c["id"] for c in as_json["items"]] == [second.id, first.id]
    assert json.loads(ok("cases", "list", "--status", "decided", "--json").output)["total"] == 0
    shown = ok("cases", "show", str(first.id)).output
    assert "content post-1" in shown
    assert "case.opened" in shown
    assert json.loads(ok("cases", "show", str(first.id), "--json").output)["id"] == first.id
    assert case_row(db, first.id).first_reviewed_at is None  # no person looked
    bad = run("cases", "list", "--status", "pending")
    assert bad.exit_code == 2
    assert "unknown status 'pending'" in bad.output
    missing = run("cases", "show", "999")
    assert missing.exit_code == 2
    assert "no case with id 999" in missing.output


def test_decide_as_a_named_reviewer(
    db: Database, open_case: OpenCase, rita: User, sam: User, ann: User
) -> None:
    case = open_case()
    needs_label = run("cases", "decide", str(case.id), "violating", "--as", "rita")
    assert needs_label.exit_code == 2
    assert "known labels: A1, A2" in needs_label.output
    assert run("cases", "decide", str(case.id), "violating", "--label", "A1").exit_code != 0
    analyst = run("cases", "decide", str(case.id), "not_violating", "--as", "ann")
    assert analyst.exit_code == 2
    assert "cases:write" in analyst.output
    nobody = run("cases", "decide", str(case.id), "not_violating", "--as", "nobody")
    assert "no user named 'nobody'" in nobody.output

    waiting = ok(
        "cases",
        "decide",
        str(case.id),
        "violating",
        "--label",
        "A1",
        "--note",
        "known item",
        "--as",
        "rita",
    )
    assert "waits for a second reviewer" in waiting.output
    same = run("cases", "confirm", str(case.id), "--as", "rita")
    assert same.exit_code == 2
    assert "someone else must confirm" in same.output
    assert "is decided" in ok("cases", "confirm", str(case.id), "--as", "sam").output
    row = case_row(db, case.id)
    assert (row.status, row.outcome, row.label, row.decided_by) == (
        "decided",
        "violating",
        "A1",
        f"user:{rita.id}",
    )
    again = run("cases", "decide", str(case.id), "not_violating", "--as", "sam")
    assert again.exit_code == 2
    assert "already decided" in again.output
    shown = ok("cases", "show", str(case.id)).output
    assert "known item" in shown
    assert "content.remove" in shown


def test_escalate_and_disagree(db: Database, open_case: OpenCase, rita: User, sam: User) -> None:
    case = open_case()
    ok("cases", "decide", str(case.id), "violating", "--label", "A1", "--as", "rita")
    assert (
        "is escalated" in ok("cases", "confirm", str(case.id), "--disagree", "--as", "sam").output
    )
    with db.session() as s:
        escalated = service.get_case(s, case.id)
        assert escalated.status == "escalated"
        assert escalated.priority_rule == "bank_match_a1"  # an A1 match outranks escalation


def test_purge_scans(db: Database) -> None:
    assert "deleted 0 expired" in ok("cases", "purge-scans").output


def test_rewrap_notes_after_a_key_rotation(
    open_case: OpenCase, rita: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shieldwall.cases.queries import UNREADABLE_NOTE
    from shieldwall.core.sealing import new_master_key_text

    def note_now() -> str:
        shown = json.loads(ok("cases", "show", str(case.id), "--json").output)
        return str(shown["decisions"][0]["note"])

    old_key, new_key = new_master_key_text(), new_master_key_text()
    monkeypatch.setenv("SHIELDWALL_MASTER_KEY", old_key)
    case = open_case()
    ok("cases", "decide", str(case.id), "not_violating", "--note", "a cartoon", "--as", "rita")
    monkeypatch.setenv("SHIELDWALL_MASTER_KEY", new_key)
    assert note_now() == UNREADABLE_NOTE  # the old key is gone and nothing was re-wrapped
    monkeypatch.setenv("SHIELDWALL_PREVIOUS_MASTER_KEYS", json.dumps([old_key]))
    assert note_now() == "a cartoon"
    assert "re-wrapped 1 note" in ok("cases", "rewrap-notes").output
    monkeypatch.delenv("SHIELDWALL_PREVIOUS_MASTER_KEYS")
    assert note_now() == "a cartoon"  # the new key alone opens it now
