"""Plain hash lists: a file on the server (local_file) and a list at an address (url)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from shieldwall.banks.models import Bank
from shieldwall.db.engine import Database
from shieldwall.devtools.fake_http import FakeService, Reply, Request, Running
from shieldwall.exchanges import service
from tests.banks.conftest import md5_of, pdq_of
from tests.exchanges.conftest import Fetch, MakeExchange, live_values


def write(path: Path, lines: list[str]) -> None:
    path.write_text("".join(f"{line}\n" for line in lines))


def test_a_local_file_is_a_snapshot_and_what_leaves_it_is_removed(
    tmp_path: Path, make_exchange: MakeExchange, fetch: Fetch, db: Database, bank: Bank
) -> None:
    path = tmp_path / "list.txt"
    write(path, ["# a list", "", *(f"pdq {pdq_of(i)}" for i in range(7)), f"md5 {md5_of(1)}"])
    name = make_exchange("file", "local_file", {"path": str(path)})
    run = fetch(name)
    assert (run.status, run.added) == ("succeeded", 8)
    assert fetch(name).records == 0  # unchanged file: not read again
    write(path, [*(f"pdq {pdq_of(i)}" for i in range(2, 7)), f"md5 {md5_of(2)}"])
    os.utime(path, ns=(1, 1))
    run = fetch(name)
    assert (run.added, run.removed) == (1, 3)
    assert set(live_values(db, bank.id)) == {
        *(("pdq", pdq_of(i)) for i in range(2, 7)),
        ("md5", md5_of(2)),
    }


def test_bad_lines_are_quarantined_with_their_line_numbers(
    tmp_path: Path, make_exchange: MakeExchange, fetch: Fetch, db: Database, bank: Bank
) -> None:
    path = tmp_path / "list.txt"
    path.write_bytes(
        b"pdq " + pdq_of(1).encode() + b"\n"
        b"pdq " + pdq_of(2)[:32].encode() + b"\n"
        b"photodna abc\n"
        b"justonefield\n"
        b"md5 \xff\xfe\n"
    )
    name = make_exchange("file", "local_file", {"path": str(path)})
    run = fetch(name)
    assert (run.added, run.quarantined) == (1, 4)
    with db.session() as session:
        reasons = {q.record_id: q.reason for q in service.status(session, name).quarantine}
    assert "line 4" in reasons
    assert "line 5" in reasons
    assert any("unknown signal type" in r for r in reasons.values())
    assert any("64 hex characters" in r for r in reasons.values())


def test_a_missing_file_fails_in_plain_words(
    tmp_path: Path, make_exchange: MakeExchange, fetch: Fetch
) -> None:
    name = make_exchange("file", "local_file", {"path": str(tmp_path / "nope.txt")})
    run = fetch(name)
    assert run.status == "failed"
    assert "cannot be read" in (run.error or "")


def test_a_long_file_read_in_several_runs_sweeps_only_when_complete(
    tmp_path: Path, make_exchange: MakeExchange, fetch: Fetch, db: Database, bank: Bank
) -> None:
    path = tmp_path / "list.txt"
    write(path, [f"md5 {md5_of(i)}" for i in range(12_000)])
    name = make_exchange("file", "local_file", {"path": str(path)})
    first = fetch(name, max_pages=1)
    assert (first.status, first.added) == ("partial", 5000)
    with db.session() as session:
        checkpoint = service.get_exchange(session, name).checkpoint
    assert checkpoint is not None
    assert checkpoint["line"] == 5000
    second = fetch(name)
    assert (second.status, second.added, second.removed) == ("succeeded", 7000, 0)
    assert len(live_values(db, bank.id)) == 12_000


class ListServer(FakeService):
    def __init__(self) -> None:
        super().__init__()
        self.body = b""
        self.etag = '"v1"'

    def handle(self, request: Request) -> Reply:
        if request.headers.get("authorization") != "Bearer list-token":
            return Reply(401, b"no")
        if request.headers.get("if-none-match") == self.etag:
            return Reply(304, b"")
        return Reply(
            200,
            iter([self.body[i : i + 1000] for i in range(0, len(self.body), 1000)]),
            {"ETag": self.etag},
        )


@pytest.fixture
def list_server() -> Iterator[tuple[ListServer, str]]:
    fake = ListServer()
    with Running(fake) as server:
        yield fake, server.url + "/list.txt"


def test_a_list_at_an_address_is_streamed_and_unchanged_lists_cost_a_304(
    list_server: tuple[ListServer, str],
    make_exchange: MakeExchange,
    fetch: Fetch,
    db: Database,
    bank: Bank,
) -> None:
    fake, url = list_server
    fake.body = "".join(f"pdq {pdq_of(i)}\r\n" for i in range(50)).encode()
    name = make_exchange("list", "url", {"url": url}, credentials={"bearer_token": "list-token"})
    run = fetch(name)
    assert (run.status, run.added) == ("succeeded", 50)
    assert fetch(name).records == 0
    assert fake.requests[-1].headers["if-none-match"] == '"v1"'
    fake.body = "".join(f"pdq {pdq_of(i)}\n" for i in range(10, 60)).encode()
    fake.etag = '"v2"'
    run = fetch(name)
    assert (run.added, run.removed) == (10, 10)
    assert len(live_values(db, bank.id)) == 50


def test_private_addresses_are_refused_unless_allowed(
    list_server: tuple[ListServer, str], db: Database, bank: Bank, tmp_path: Path
) -> None:
    from shieldwall.config import Settings
    from shieldwall.exchanges import runner
    from shieldwall.exchanges.schemas import ExchangeCreate
    from tests.conftest import SYSTEM

    _fake, url = list_server
    settings = Settings(data_dir=tmp_path, database_url=db.url, exchange_scheduler=False)
    with db.session() as session:
        service.create_exchange(
            session,
            settings,
            ExchangeCreate(
                name="inside", type="url", bank=bank.name, settings={"url": url}, schedule_minutes=0
            ),
            actor=SYSTEM,
        )
    run = runner.run_fetch(db, settings, "inside")
    assert run.status == "failed"
    assert "private, loopback" in (run.error or "")
