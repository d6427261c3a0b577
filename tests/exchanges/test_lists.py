"""Plain hash lists: a file on the server (local_file) and a list at an address (url)."""

from __future__ import annotations

import os
import tracemalloc
import zlib
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shieldwall.banks.models import Bank
from shieldwall.config import Settings
from shieldwall.db.engine import Database
from shieldwall.devtools.fake_http import FakeService, Reply, Request, Running
from shieldwall.exchanges import service
from shieldwall.exchanges.schemas import ExchangeUpdate
from shieldwall.integrations.exchanges.base import Deadline, SourceClient, SourceMalformed
from tests.banks.conftest import md5_of, pdq_of
from tests.exchanges.conftest import Fetch, MakeExchange, checkpoint_of, live_values


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


@pytest.mark.skipif(not Path("/proc/self/mem").exists(), reason="needs Linux /proc")
def test_a_regular_file_that_fails_to_read_fails_in_plain_words(
    make_exchange: MakeExchange, fetch: Fetch, caplog: pytest.LogCaptureFixture
) -> None:
    # /proc/self/mem passes as a regular file but reading it at offset 0 is EIO
    name = make_exchange("mem", "local_file", {"path": "/proc/self/mem"})
    run = fetch(name)
    assert run.status == "failed"
    assert "the list file cannot be read (Input/output error)" in (run.error or ""), run.error
    assert "internal error" not in (run.error or "")
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"


def test_a_long_file_read_in_several_runs_sweeps_only_when_complete(
    tmp_path: Path, make_exchange: MakeExchange, fetch: Fetch, db: Database, bank: Bank
) -> None:
    path = tmp_path / "list.txt"
    write(path, [f"md5 {md5_of(i)}" for i in range(12_000)])
    name = make_exchange("file", "local_file", {"path": str(path)})
    first = fetch(name, max_pages=1)
    assert (first.status, first.added) == ("partial", 5000)
    checkpoint = checkpoint_of(db, name)
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
        self.busy: list[Reply] = []  # answered first, one a request
        self.always_busy = False

    def handle(self, request: Request) -> Reply:
        if request.headers.get("authorization") != "Bearer list-token":
            return Reply(401, b"no")
        if self.always_busy:
            return Reply(503, b"down for maintenance")
        if self.busy:
            return self.busy.pop(0)
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


def list_at(make_exchange: MakeExchange, url: str) -> str:
    """A ``url`` exchange named "list" reading the list server at ``url``."""
    return make_exchange("list", "url", {"url": url}, credentials={"bearer_token": "list-token"})


def test_a_list_of_bare_values_is_read_as_the_exchanges_signal_type(
    tmp_path: Path,
    make_exchange: MakeExchange,
    fetch: Fetch,
    db: Database,
    bank: Bank,
    settings: Settings,
) -> None:
    """As python-threatexchange's file collaborations with ``signal_type``: every line is
    a value of that type (so a typed line is a malformed value, quarantined by number)."""
    path = tmp_path / "hashes.txt"
    write(
        path,
        ["# bare PDQs", *(pdq_of(i).upper() for i in range(5)), f"pdq {pdq_of(9)}", "zz"],
    )
    name = make_exchange("bare", "local_file", {"path": str(path), "signal_type": " PDQ"})
    run = fetch(name)
    assert (run.status, run.added, run.quarantined) == ("succeeded", 5, 2)
    assert set(live_values(db, bank.id)) == {("pdq", pdq_of(i)) for i in range(5)}
    with db.session() as session:
        exchange = service.get_exchange(session, name)
        assert exchange.settings["signal_type"] == "pdq"
    # the same list read as typed lines: the bare values are now the malformed ones, and
    # what they added leaves the bank (a new setting is a new source: a new snapshot)
    with db.session() as session:
        service.update_exchange(
            session, settings, name, ExchangeUpdate(settings={"path": str(path)}), actor="test"
        )
    run = fetch(name)
    assert (run.added, run.removed) == (1, 5)
    assert set(live_values(db, bank.id)) == {("pdq", pdq_of(9))}


def test_a_list_at_an_address_is_streamed_and_unchanged_lists_cost_a_304(
    list_server: tuple[ListServer, str],
    make_exchange: MakeExchange,
    fetch: Fetch,
    db: Database,
    bank: Bank,
) -> None:
    fake, url = list_server
    fake.body = "".join(f"pdq {pdq_of(i)}\r\n" for i in range(50)).encode()
    name = list_at(make_exchange, url)
    run = fetch(name)
    assert (run.status, run.added) == ("succeeded", 50)
    assert fetch(name).records == 0
    assert fake.requests[-1].headers["if-none-match"] == '"v1"'
    fake.body = "".join(f"pdq {pdq_of(i)}\n" for i in range(10, 60)).encode()
    fake.etag = '"v2"'
    run = fetch(name)
    assert (run.added, run.removed) == (10, 10)
    assert len(live_values(db, bank.id)) == 50


def test_a_busy_list_is_retried_as_it_asks_then_read_and_one_always_busy_waits_for_a_run(
    list_server: tuple[ListServer, str],
    make_exchange: MakeExchange,
    fetch: Fetch,
    db: Database,
    bank: Bank,
) -> None:
    fake, url = list_server
    fake.body = "".join(f"pdq {pdq_of(i)}\n" for i in range(20)).encode()
    fake.busy = [Reply(503, b"", {"Retry-After": "7"}), Reply(429, b"slow down")]
    name = list_at(make_exchange, url)
    slept: list[float] = []
    run = fetch(name, sleep=slept.append)
    assert (run.status, run.added) == ("succeeded", 20)
    assert len(fake.requests) == 3
    assert slept[0] == 7  # as its Retry-After asked; then backing off
    assert len(slept) == 2

    fake.always_busy = True
    fake.body = "".join(f"pdq {pdq_of(i)}\n" for i in range(20, 30)).encode()
    fake.etag = '"v2"'
    before = len(fake.requests)
    run = fetch(name)
    assert run.status == "failed"
    error = run.error or ""
    assert "503" in error
    assert "the next run tries again" in error
    tries = len(fake.requests) - before
    assert tries > 1  # retried before giving up, and says so
    assert f"({tries} attempt(s))" in error
    assert len(live_values(db, bank.id)) == 20  # nothing lost, nothing half-read


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


class GzipServer(FakeService):
    """Answers with a gzip body that expands to ``size`` bytes of zeros (no line breaks)."""

    def __init__(self, size: int) -> None:
        super().__init__()
        zeros = zlib.compressobj(9, zlib.DEFLATED, 31)  # gzip container
        block = bytes(1_048_576)
        parts = [zeros.compress(block) for _ in range(size // len(block))]
        self.body = b"".join(parts) + zeros.flush()

    def handle(self, request: Request) -> Reply:
        return Reply(200, self.body, {"Content-Encoding": "gzip"})


def test_a_compressed_list_that_expands_without_end_is_refused_with_memory_bounded(
    make_exchange: MakeExchange, fetch: Fetch, db: Database, bank: Bank
) -> None:
    """A list served gzip-compressed whose body inflates to 512 MiB of zeros (about half a
    megabyte on the wire): the fetch fails in plain words once a line passes the limit,
    keeps nothing, and never holds the inflated body."""
    fake = GzipServer(512 * 1_048_576)
    assert len(fake.body) < 1_048_576
    with Running(fake) as server:
        name = make_exchange("bomb", "url", {"url": server.url + "/list.txt"})
        tracemalloc.start()
        try:
            run = fetch(name)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert run.status == "failed"
    assert "longer than" in (run.error or "")
    assert not live_values(db, bank.id)
    print(f"peak {peak / 1_048_576:.0f} MiB")
    assert peak < 256 * 1_048_576, f"peak {peak / 1_048_576:.0f} MiB"


_CLIENTS: dict[int, SourceClient] = {}


def _client(max_bytes: int) -> SourceClient:
    """One per limit for the whole module (a client sets up TLS, which costs more than the
    reading tested here); only its line splitting is used."""
    if max_bytes not in _CLIENTS:
        _CLIENTS[max_bytes] = SourceClient(Deadline(3600), max_bytes=max_bytes)
    return _CLIENTS[max_bytes]


@settings(max_examples=300, deadline=None)
@given(
    body=st.lists(
        st.sampled_from([b"a", b"bc", b"\n", b"\r", b"\r\n", b"", b"md5 x"]), max_size=40
    ).map(b"".join),
    cuts=st.lists(st.integers(min_value=0, max_value=200), max_size=12),
)
def test_lines_are_the_same_however_the_body_is_cut_into_chunks(
    body: bytes, cuts: list[int]
) -> None:
    """A list is read as it arrives; a line (or its CR LF) split across chunks is one line."""
    points = sorted({min(c, len(body)) for c in cuts} | {0, len(body)})
    chunks = [body[a:b] for a, b in pairwise(points)]
    response = httpx.Response(200, content=iter(chunks))
    expected = [line.rstrip(b"\r") for line in body.split(b"\n")]
    if expected and not body.split(b"\n")[-1]:
        expected.pop()  # a final line break ends the last line; it starts none
    assert list(_client(1_000)._lines(response)) == expected


@pytest.mark.parametrize("chunk", [1, 3, 64])
def test_a_line_over_the_limit_is_refused_whether_or_not_its_end_has_come(chunk: int) -> None:
    for body, refused in (
        (b"12345678\n" + b"x" * 8, False),  # at the limit, finished or not
        (b"123456789\nok\n", True),  # over it, finished
        (b"ok\n" + b"y" * 20, True),  # over it, never finished
    ):
        parts = [body[i : i + chunk] for i in range(0, len(body), chunk)]
        lines = _client(8)._lines(httpx.Response(200, content=iter(parts)))
        if refused:
            with pytest.raises(SourceMalformed, match="longer than 8 bytes"):
                list(lines)
        else:
            assert list(lines) == [b"12345678", b"x" * 8]


def test_a_list_at_an_address_of_bare_values_is_read_as_the_exchanges_signal_type(
    list_server: tuple[ListServer, str],
    make_exchange: MakeExchange,
    fetch: Fetch,
    db: Database,
    bank: Bank,
) -> None:
    fake, url = list_server
    fake.body = "".join(f"{md5_of(i)}\r\n" for i in range(20)).encode()
    name = make_exchange(
        "list",
        "url",
        {"url": url, "signal_type": "md5"},
        credentials={"bearer_token": "list-token"},
    )
    run = fetch(name)
    assert (run.status, run.added, run.quarantined) == ("succeeded", 20, 0)
    assert set(live_values(db, bank.id)) == {("md5", md5_of(i)) for i in range(20)}
