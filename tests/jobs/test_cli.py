"""``shieldwall jobs list`` and ``jobs retry``, through Typer's test runner."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from shieldwall.cli import app
from shieldwall.config import Settings
from shieldwall.db.engine import Database
from shieldwall.jobs.models import OutboxStatus
from tests.jobs.helpers import Clock, events, item_of, request
from tests.jobs.receiver import Receiver
from tests.jobs.test_outbox import worker

pytestmark = pytest.mark.db


@pytest.fixture(autouse=True)
def cli_env(
    settings: Settings, receiver: Receiver, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in list(os.environ):
        if name.startswith("SHIELDWALL_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SHIELDWALL_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("SHIELDWALL_DATABASE_URL", settings.effective_database_url)
    monkeypatch.setenv("SHIELDWALL_WEBHOOK_URL", receiver.url)
    monkeypatch.setenv("SHIELDWALL_WEBHOOK_SECRET", receiver.secret)
    monkeypatch.setenv("COLUMNS", "200")


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def test_list_shows_items_and_counts(db: Database, settings: Settings, receiver: Receiver) -> None:
    receiver.default_status = 400
    action = request(db, settings)
    worker(db, settings, Clock()).run_once()
    result = run("jobs", "list")
    assert result.exit_code == 0, result.output
    assert f"action:{action.id}" in result.output
    assert "the webhook receiver answered 400 (refused; not retried)" in result.output
    assert "failed 1" in result.output
    only_sent = run("jobs", "list", "--status", "sent")
    assert f"action:{action.id}" not in only_sent.output


def test_retry_requeues_a_failed_item_which_then_goes_out(
    db: Database, settings: Settings, receiver: Receiver
) -> None:
    receiver.statuses.append(400)
    action = request(db, settings)
    worker(db, settings, Clock()).run_once()
    item = item_of(db, action)
    assert item.status == OutboxStatus.FAILED
    result = run("jobs", "retry", str(item.id))
    assert result.exit_code == 0, result.output
    assert "re-queued 1 item(s)" in result.output
    again = item_of(db, action)
    assert (again.status, again.attempts) == (OutboxStatus.PENDING, 0)
    (event,) = events(db, "outbox.requeued")
    assert event.actor == "system:cli"
    assert event.payload == {"outbox_item_id": item.id, "previous_status": "failed"}
    once = run("jobs", "run", "--once")
    assert once.exit_code == 0, once.output
    assert "sent 1" in once.output
    deliveries = receiver.wait_for(2)
    assert {d.key for d in deliveries} == {action.key}
    assert item_of(db, action).status == OutboxStatus.SENT


def test_retry_refuses_what_is_not_finished_or_unknown(db: Database, settings: Settings) -> None:
    action = request(db, settings)
    item = item_of(db, action)
    pending = run("jobs", "retry", str(item.id))
    assert pending.exit_code == 2
    assert "only failed or dead items" in pending.output
    unknown = run("jobs", "retry", "999999")
    assert unknown.exit_code == 2
    assert "no outbox item with id 999999" in unknown.output
    nothing = run("jobs", "retry")
    assert nothing.exit_code == 2
    assert "--all-failed" in nothing.output


def test_retry_all_failed(db: Database, settings: Settings, receiver: Receiver) -> None:
    receiver.default_status = 410
    for n in range(3):
        request(db, settings, key=f"k{n}")
    worker(db, settings, Clock()).run_once()
    result = run("jobs", "retry", "--all-failed")
    assert result.exit_code == 0, result.output
    assert "re-queued 3 item(s)" in result.output
    assert len(events(db, "outbox.requeued")) == 3


def test_run_once_with_nothing_due(db: Database) -> None:
    result = run("jobs", "run", "--once")
    assert result.exit_code == 0, result.output
    assert "nothing due" in result.output
