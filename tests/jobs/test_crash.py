"""Crash safety with a real killed process: nothing lost, nothing acted on twice.

A worker process is killed with SIGKILL at three points — after claiming an item but before
sending it, while the receiver holds the request, and after the receiver answered but before
the outcome was committed — and ``shieldwall jobs run`` is started again. The item is
delivered in the end; a second delivery carries the same ``Idempotency-Key`` and the same
body, so a receiver that dedupes by key (as the docs say) acts exactly once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from shieldwall.config import Settings
from shieldwall.db.engine import Database
from shieldwall.jobs.models import OutboxStatus
from tests.jobs.helpers import events, item_of, request, wait_until
from tests.jobs.receiver import Receiver

pytestmark = pytest.mark.db
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def env(settings: Settings, receiver: Receiver, tmp_path: Path) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("SHIELDWALL_")}
    base.update(
        {
            "SHIELDWALL_DATABASE_URL": settings.effective_database_url,
            "SHIELDWALL_DATA_DIR": str(tmp_path / "worker"),
            "SHIELDWALL_WEBHOOK_URL": receiver.url,
            "SHIELDWALL_WEBHOOK_SECRET": receiver.secret,
            # A short lease (the worker makes it at least timeout + 1 s: 3 s).
            "SHIELDWALL_OUTBOX_LEASE_SECONDS": "1",
            "SHIELDWALL_WEBHOOK_TIMEOUT_SECONDS": "2",
            "SHIELDWALL_OUTBOX_POLL_SECONDS": "0.1",
            "SHIELDWALL_LOG_LEVEL": "warning",
        }
    )
    return base


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def start(
    args: list[str], env: dict[str, str], log: Path, started: list[subprocess.Popen[bytes]]
) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", *args], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    started.append(process)
    return process


@pytest.mark.parametrize("crash_point", ["before_send", "during_send", "after_send"])
def test_a_killed_worker_loses_nothing_and_doubles_nothing(
    crash_point: str,
    db: Database,
    settings: Settings,
    receiver: Receiver,
    env: dict[str, str],
    tmp_path: Path,
    processes: list[subprocess.Popen[bytes]],
) -> None:
    action = request(db, settings, key="case:21:content.remove", case_id=21)  # committed
    markers = tmp_path / "markers"
    markers.mkdir()
    log = tmp_path / "first.log"
    if crash_point == "during_send":
        receiver.hold = True
        first = start(["shieldwall", "jobs", "run"], env, log, processes)
        arrived = lambda: receiver.arrived.is_set()  # noqa: E731
    else:
        first = start(["tests.jobs.crash_worker", crash_point, str(markers)], env, log, processes)
        marker = markers / ("claimed" if crash_point == "before_send" else "sent")
        arrived = marker.exists
    wait_until(
        lambda: arrived() or first.poll() is not None,
        timeout=60,
        what=f"the worker reaching {crash_point}",
    )
    assert first.poll() is None, log.read_text()
    first.send_signal(signal.SIGKILL)
    assert first.wait(10) == -signal.SIGKILL

    item = item_of(db, action)
    assert (item.status, item.attempts) == (OutboxStatus.SENDING, 1)  # leased, never finished
    sent_before_crash = 0 if crash_point == "before_send" else 1
    assert len(receiver.deliveries) == sent_before_crash
    receiver.hold = False
    receiver.release.set()

    restart_log = tmp_path / "restart.log"
    second = start(["shieldwall", "jobs", "run"], env, restart_log, processes)
    wait_until(
        lambda: item_of(db, action).status == OutboxStatus.SENT or second.poll() is not None,
        timeout=60,
        what="the restarted worker delivering the item",
    )
    assert item_of(db, action).status == OutboxStatus.SENT, restart_log.read_text()
    second.send_signal(signal.SIGTERM)
    assert second.wait(30) == 0, restart_log.read_text()

    deliveries = receiver.deliveries
    assert len(deliveries) == sent_before_crash + 1
    assert {d.key for d in deliveries} == {"case:21:content.remove"}
    assert len({d.body for d in deliveries}) == 1
    assert receiver.acted_on() == ["case:21:content.remove"]
    assert item_of(db, action).attempts == 2
    assert len(events(db, "webhook.delivered")) == 1


def test_jobs_run_once_sends_what_is_due_and_exits(
    db: Database,
    settings: Settings,
    receiver: Receiver,
    env: dict[str, str],
    tmp_path: Path,
    processes: list[subprocess.Popen[bytes]],
) -> None:
    for n in range(3):
        request(db, settings, key=f"case:{n}:content.block", case_id=n + 1)
    log = tmp_path / "once.log"
    process = start(["shieldwall", "jobs", "run", "--once"], env, log, processes)
    assert process.wait(60) == 0, log.read_text()
    assert "sent 3" in log.read_text()
    assert sorted(d.key for d in receiver.wait_for(3)) == [
        "case:0:content.block",
        "case:1:content.block",
        "case:2:content.block",
    ]
