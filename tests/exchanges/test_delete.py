"""Deleting an exchange withdraws what it brought: in the background, a batch per
transaction, by the sweep's rules (entries another exchange also brought, and entries added
by hand, stay), resumable, and never undone by a fetch that was under way."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from shieldwall.audit.models import Event
from shieldwall.banks import service as banks
from shieldwall.banks.models import Bank
from shieldwall.banks.schemas import EntryIn
from shieldwall.cli import app as cli_app
from shieldwall.config import Settings
from shieldwall.core.errors import NotFound
from shieldwall.db.base import utcnow
from shieldwall.db.engine import Database
from shieldwall.exchanges import ingest, runner, service, withdraw
from shieldwall.exchanges.models import Exchange, ExchangeItem
from shieldwall.integrations.exchanges.local_file import PAGE_LINES
from shieldwall.jobs import handlers
from shieldwall.jobs.models import OutboxItem
from shieldwall.jobs.outbox import OutboxWorker, PermanentFailure
from shieldwall.matching.index import MatchIndex
from shieldwall.users.models import User
from tests.banks.conftest import pdq_of
from tests.conftest import PASSWORD, SYSTEM, auth
from tests.exchanges.conftest import Fetch, MakeExchange, live_values
from tests.jobs.helpers import Clock
from tests.web.conftest import LoginAs
from tests.web.html_forms import parse, submit

pytestmark = pytest.mark.db


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # the outbox worker is driven by hand here, never by a server thread
    return settings.model_copy(update={"outbox_in_server": False})


@pytest.fixture
def index(db: Database, settings: Settings) -> Iterator[MatchIndex]:
    built = MatchIndex(db, settings)
    yield built
    built.stop(save=False)


def list_file(tmp_path: Path, name: str, numbers: range | list[int]) -> str:
    path = tmp_path / f"{name}.txt"
    path.write_text("".join(f"pdq {pdq_of(i)}\n" for i in numbers))
    return str(path)


def worker(db: Database, settings: Settings, clock: Clock | None = None, **kw: Any) -> OutboxWorker:
    return handlers.build_worker(db, settings, clock=clock or utcnow, **kw)


def live_pdqs(db: Database, bank: Bank) -> set[str]:
    return {v for (t, v) in live_values(db, bank.id) if t == "pdq"}


def in_index(index: MatchIndex, value: str) -> bool:
    return bool(index.query_pdq(bytes.fromhex(value), 0))


def live_items(db: Database, exchange_id: int) -> int:
    with db.session() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(ExchangeItem)
                .where(ExchangeItem.exchange_id == exchange_id, ExchangeItem.removed_at.is_(None))
            )
            or 0
        )


def exchange_id(db: Database, name: str) -> int:
    with db.session() as session:
        return service.get_exchange(session, name).id


def withdraw_items(db: Database) -> list[tuple[str, str]]:
    with db.session() as session:
        rows = session.execute(
            select(OutboxItem.key, OutboxItem.status)
            .where(OutboxItem.kind == withdraw.KIND)
            .order_by(OutboxItem.id)
        ).all()
    return [(str(k), str(s)) for k, s in rows]


def withdrawn_events(db: Database, exchange_id: int) -> list[dict[str, Any]]:
    with db.session() as session:
        return [
            dict(p)
            for p in session.scalars(
                select(Event.payload)
                .where(
                    Event.kind == "exchange.withdrawn", Event.subject == f"exchange:{exchange_id}"
                )
                .order_by(Event.id)
            )
        ]


def delete(db: Database, name: str, *, keep_entries: bool = False) -> None:
    with db.session() as session:
        service.delete_exchange(session, name, actor=SYSTEM, keep_entries=keep_entries)


# ---- the rules ------------------------------------------------------------------------------


def test_only_what_the_deleted_exchange_alone_brought_leaves_the_bank_and_the_index(
    tmp_path: Path,
    make_exchange: MakeExchange,
    fetch: Fetch,
    db: Database,
    settings: Settings,
    bank: Bank,
    index: MatchIndex,
) -> None:
    # pdq 0 was added by hand first; A brings 0-9, B brings 5-14
    with db.session() as session:
        banks.add_entries(
            session, bank.name, [EntryIn(signal_type="pdq", value=pdq_of(0))], actor=SYSTEM
        )
    a = make_exchange("a", "local_file", {"path": list_file(tmp_path, "a", range(10))})
    b = make_exchange("b", "local_file", {"path": list_file(tmp_path, "b", range(5, 15))})
    assert fetch(a).added == 9
    assert fetch(b).added == 5
    index.load()
    assert all(in_index(index, pdq_of(i)) for i in range(15))
    a_id = exchange_id(db, a)

    delete(db, a)
    # the delete itself withdrew nothing yet: the job does, after commit
    assert live_pdqs(db, bank) == {pdq_of(i) for i in range(15)}
    assert withdraw_items(db) == [(f"exchange.withdraw:{a_id}", "pending")]
    counts = worker(db, settings).run_once()
    assert counts["sent"] == 1

    kept = {0, *range(5, 15)}
    assert live_pdqs(db, bank) == {pdq_of(i) for i in kept}
    assert live_items(db, a_id) == 0
    assert live_items(db, exchange_id(db, b)) == 10
    assert withdrawn_events(db, a_id) == [{"items": 10, "removed": 4}]
    index.sync()
    for i in range(15):
        assert in_index(index, pdq_of(i)) == (i in kept), i
    # running again removes nothing more
    again = withdraw.withdraw(db, a_id)
    assert (again.items, again.removed, again.done) == (0, 0, True)
    assert len(withdrawn_events(db, a_id)) == 1
    # the remaining exchange still owns its entries: when B goes, 5-14 go too (0 stays)
    delete(db, b)
    worker(db, settings).run_once()
    assert live_pdqs(db, bank) == {pdq_of(0)}


def test_keep_entries_keeps_items_and_entries(
    tmp_path: Path, make_exchange: MakeExchange, fetch: Fetch, db: Database, bank: Bank
) -> None:
    a = make_exchange("a", "local_file", {"path": list_file(tmp_path, "a", range(4))})
    fetch(a)
    a_id = exchange_id(db, a)
    delete(db, a, keep_entries=True)
    assert withdraw_items(db) == []
    assert live_pdqs(db, bank) == {pdq_of(i) for i in range(4)}
    assert live_items(db, a_id) == 4
    with db.session() as session:
        deleted = session.scalars(
            select(Event.payload).where(Event.kind == "exchange.deleted")
        ).one()
    assert deleted == {"name": "a", "keep_entries": True}


def test_the_job_works_in_batches_and_resumes_after_a_failure(
    tmp_path: Path,
    make_exchange: MakeExchange,
    fetch: Fetch,
    db: Database,
    settings: Settings,
    bank: Bank,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    a = make_exchange("a", "local_file", {"path": list_file(tmp_path, "a", range(23))})
    assert fetch(a).added == 23
    a_id = exchange_id(db, a)
    monkeypatch.setattr(withdraw, "BATCH_ITEMS", 5)
    real_sweep = ingest.sweep
    calls = {"n": 0}

    def flaky_sweep(*args: Any, **kwargs: Any) -> tuple[int, int, int]:
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("the database went away")
        return real_sweep(*args, **kwargs)

    monkeypatch.setattr(ingest, "sweep", flaky_sweep)
    delete(db, a)
    clock = Clock()
    first = worker(db, settings, clock).run_once()
    assert first["retrying"] == 1
    # two batches were committed before the failure; the third rolled back whole
    assert live_items(db, a_id) == 13
    assert len(live_pdqs(db, bank)) == 13
    assert withdrawn_events(db, a_id) == [{"items": 5, "removed": 5}] * 2
    clock.advance(hours=1)
    second = worker(db, settings, clock).run_once()
    assert second["sent"] == 1
    assert live_items(db, a_id) == 0
    assert live_pdqs(db, bank) == set()
    events = withdrawn_events(db, a_id)
    assert [e["items"] for e in events] == [5, 5, 5, 5, 3]
    assert sum(e["removed"] for e in events) == 23
    with db.session() as session:
        outcome = session.scalars(
            select(Event.kind).where(Event.kind.startswith("exchange.withdraw."))
        ).all()
    assert outcome == ["exchange.withdraw.delivered"]


def test_a_claim_hands_over_to_a_continuation_when_its_time_is_up(
    tmp_path: Path,
    make_exchange: MakeExchange,
    fetch: Fetch,
    db: Database,
    settings: Settings,
    bank: Bank,
) -> None:
    a = make_exchange("a", "local_file", {"path": list_file(tmp_path, "a", range(12))})
    fetch(a)
    a_id = exchange_id(db, a)
    delete(db, a)
    quick = withdraw.withdraw_handler(db, settings, batch_items=5, seconds=0)
    counts = worker(db, settings, overrides={withdraw.KIND: quick}).run_once()
    assert counts["sent"] == 4  # 5 + 5 + 2, then one that finds nothing left
    assert withdraw_items(db) == [
        (f"exchange.withdraw:{a_id}", "sent"),
        (f"exchange.withdraw:{a_id}:1", "sent"),
        (f"exchange.withdraw:{a_id}:2", "sent"),
        (f"exchange.withdraw:{a_id}:3", "sent"),
    ]
    assert live_pdqs(db, bank) == set()
    assert [e["items"] for e in withdrawn_events(db, a_id)] == [5, 5, 2]


def test_a_fetch_under_way_cannot_add_back_after_the_delete(
    tmp_path: Path,
    make_exchange: MakeExchange,
    fetch: Fetch,
    db: Database,
    settings: Settings,
    bank: Bank,
) -> None:
    # two pages (a full one, then one line): the exchange is deleted once the first is
    # committed
    a = make_exchange("a", "local_file", {"path": list_file(tmp_path, "a", range(PAGE_LINES + 1))})
    deleted: list[bool] = []

    def delete_after_first_batch(_totals: ingest.Applied) -> None:
        if not deleted:
            deleted.append(True)
            delete(db, a)

    run = fetch(a, batch_records=1, progress=delete_after_first_batch)
    assert deleted == [True]
    assert run.status == "failed"
    assert "deleted" in (run.error or "")
    assert run.added == PAGE_LINES
    assert pdq_of(PAGE_LINES) not in live_pdqs(db, bank)  # the second page was never written
    with db.session() as session:
        row = session.scalars(select(Exchange).where(Exchange.name.startswith("a__deleted_"))).one()
        assert (row.lease_owner, row.lease_until) == (None, None)
        a_id = row.id
    # a deleted exchange cannot be fetched again, by hand or by the schedule
    with pytest.raises(NotFound):
        fetch(a)
    assert runner.ExchangeScheduler(db, settings).run_due() == []
    worker(db, settings).run_once()
    assert live_pdqs(db, bank) == set()
    assert live_items(db, a_id) == 0


def test_a_job_whose_bank_was_deleted_just_finishes(
    tmp_path: Path,
    make_exchange: MakeExchange,
    fetch: Fetch,
    db: Database,
    settings: Settings,
    bank: Bank,
) -> None:
    a = make_exchange("a", "local_file", {"path": list_file(tmp_path, "a", range(3))})
    fetch(a)
    a_id = exchange_id(db, a)
    delete(db, a)
    with db.session() as session:
        banks.delete_bank(session, bank.name, actor=SYSTEM)
    assert worker(db, settings).run_once()["sent"] == 1
    assert withdrawn_events(db, a_id) == []


def test_a_job_for_an_exchange_that_is_not_deleted_refuses(
    tmp_path: Path, make_exchange: MakeExchange, fetch: Fetch, db: Database, bank: Bank
) -> None:
    a = make_exchange("a", "local_file", {"path": list_file(tmp_path, "a", range(3))})
    fetch(a)
    with pytest.raises(PermanentFailure):
        withdraw.withdraw(db, exchange_id(db, a))
    assert len(live_pdqs(db, bank)) == 3


# ---- API, CLI, web --------------------------------------------------------------------------


def test_api_delete_withdraws_by_default_and_keeps_when_asked(
    client: TestClient,
    admin_key: str,
    tmp_path: Path,
    make_exchange: MakeExchange,
    fetch: Fetch,
    db: Database,
    settings: Settings,
    bank: Bank,
) -> None:
    headers = auth(admin_key)
    a = make_exchange("a", "local_file", {"path": list_file(tmp_path, "a", range(3))})
    b = make_exchange("b", "local_file", {"path": list_file(tmp_path, "b", range(10, 13))})
    fetch(a)
    fetch(b)
    assert client.delete("/v1/exchanges/a", headers=headers).status_code == 204
    kept = client.delete("/v1/exchanges/b?keep_entries=true", headers=headers)
    assert kept.status_code == 204
    # hostile: twice, unknown, malformed flag
    assert client.delete("/v1/exchanges/a", headers=headers).status_code == 404
    assert client.delete("/v1/exchanges/nope", headers=headers).status_code == 404
    bad = client.delete("/v1/exchanges/nope?keep_entries=maybe", headers=headers)
    assert bad.status_code == 422
    assert [k for k, _ in withdraw_items(db)] == [f"exchange.withdraw:{exchange_id_of(db, 'a')}"]
    worker(db, settings).run_once()
    assert live_pdqs(db, bank) == {pdq_of(i) for i in range(10, 13)}
    names = [e["name"] for e in client.get("/v1/exchanges", headers=headers).json()]
    assert names == []
    events = client.get("/v1/events?kind_prefix=exchange.withdrawn", headers=headers).json()
    assert [e["payload"] for e in events["items"]] == [{"items": 3, "removed": 3}]


def exchange_id_of(db: Database, original: str) -> int:
    """The id of a deleted exchange, by the name it had."""
    with db.session() as session:
        return int(
            session.scalars(
                select(Exchange.id).where(Exchange.name.startswith(f"{original}__deleted_"))
            ).one()
        )


def test_cli_delete_with_and_without_keep_entries(
    tmp_path: Path,
    make_exchange: MakeExchange,
    fetch: Fetch,
    db: Database,
    settings: Settings,
    bank: Bank,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in list(os.environ):
        if name.startswith("SHIELDWALL_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SHIELDWALL_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("SHIELDWALL_DATABASE_URL", settings.effective_database_url)
    monkeypatch.setenv("COLUMNS", "250")
    a = make_exchange("a", "local_file", {"path": list_file(tmp_path, "a", range(3))})
    b = make_exchange("b", "local_file", {"path": list_file(tmp_path, "b", range(10, 13))})
    fetch(a)
    fetch(b)
    cli = CliRunner()
    kept = cli.invoke(cli_app, ["exchange", "delete", a, "--keep-entries"])
    assert kept.exit_code == 0, kept.output
    assert "stay in the bank" in kept.output
    gone = cli.invoke(cli_app, ["exchange", "delete", b])
    assert gone.exit_code == 0, gone.output
    assert "withdrawn in the background" in gone.output
    assert cli.invoke(cli_app, ["exchange", "delete", b]).exit_code == 2  # not found
    jobs = cli.invoke(cli_app, ["jobs", "list", "--kind", withdraw.KIND])
    assert jobs.exit_code == 0, jobs.output
    assert "exchange.withdraw" in jobs.output
    assert "pending" in jobs.output
    ran = cli.invoke(cli_app, ["jobs", "run", "--once"])
    assert ran.exit_code == 0, ran.output
    assert live_pdqs(db, bank) == {pdq_of(i) for i in range(3)}


def test_web_delete_form_with_the_keep_entries_box(
    login_as: LoginAs,
    admin: User,
    tmp_path: Path,
    make_exchange: MakeExchange,
    fetch: Fetch,
    db: Database,
    settings: Settings,
    bank: Bank,
) -> None:
    a = make_exchange("a", "local_file", {"path": list_file(tmp_path, "a", range(3))})
    b = make_exchange("b", "local_file", {"path": list_file(tmp_path, "b", range(10, 13))})
    fetch(a)
    fetch(b)
    c = login_as("root", PASSWORD)
    page = parse(c.get("/exchanges/a").text)
    form = page.form_to("/exchanges/a/delete")
    assert form.hidden("csrf_token")
    assert ("checkbox", "keep_entries", "on") in form.inputs
    assert "keep_entries" not in form.fields  # not ticked unless asked
    assert "keep the entries it brought" in page.text_of("delete")
    assert submit(c, form, keep_entries="on").status_code == 303
    form = parse(c.get("/exchanges/b").text).form_to("/exchanges/b/delete")
    done = submit(c, form)
    assert done.status_code == 303
    assert done.headers["location"] == "/exchanges"
    listed = c.get("/exchanges").text
    assert "/exchanges/a" not in listed
    assert "/exchanges/b" not in listed
    # without the CSRF token nothing happens; an unknown exchange is 404
    assert c.post("/exchanges/b/delete", data={}, follow_redirects=False).status_code == 403
    token = form.hidden("csrf_token") or ""
    missing = c.post("/exchanges/b/delete", data={"csrf_token": token}, follow_redirects=False)
    assert missing.status_code == 404
    assert [k for k, _ in withdraw_items(db)] == [f"exchange.withdraw:{exchange_id_of(db, 'b')}"]
    worker(db, settings).run_once()
    assert live_pdqs(db, bank) == {pdq_of(i) for i in range(3)}
