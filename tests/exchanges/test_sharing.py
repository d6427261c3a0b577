"""Two deployments sharing a bank: A publishes a signed feed, B fetches it as a
``shieldwall`` exchange over real HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from shieldwall.apikeys.schemas import KeyKind
from shieldwall.audit.models import Event
from shieldwall.banks import service as banks
from shieldwall.banks.schemas import BankCreate, EntryIn, EntryUpdate
from shieldwall.config import Settings
from shieldwall.core.access import Scope
from shieldwall.db import migrate
from shieldwall.db.engine import Database
from shieldwall.devtools.fake_http import FakeService, Reply, Request, Running
from shieldwall.exchanges import runner, service
from shieldwall.exchanges.schemas import ExchangeCreate, RunOut
from shieldwall.integrations.exchanges import signing
from tests.banks.conftest import md5_of, pdq_of
from tests.conftest import SYSTEM, KeyFactory, LiveServer, auth
from tests.exchanges.conftest import live_values

pytestmark = pytest.mark.db


@dataclass
class Partner:
    """Deployment B: its own database, data folder and master key."""

    db: Database
    settings: Settings
    bank_id: int

    def fetch(self, name: str = "from-a") -> RunOut:
        return runner.run_fetch(self.db, self.settings, name, runner.RunOptions(time_limit=60))

    def connect(self, url: str, api_key: str, public_key: str, name: str = "from-a") -> None:
        with self.db.session() as session:
            service.create_exchange(
                session,
                self.settings,
                ExchangeCreate(
                    name=name,
                    type="shieldwall",
                    bank="FROM_A",
                    settings={"url": url, "bank": "SHARED", "public_key": public_key},
                    credentials={"api_key": api_key},
                    schedule_minutes=0,
                ),
                actor=SYSTEM,
            )


@pytest.fixture
def partner(tmp_path: Path) -> Iterator[Partner]:
    folder = tmp_path / "deployment-b"
    settings = Settings(
        data_dir=folder,
        exchange_allow_private_addresses=True,
        exchange_scheduler=False,
    )
    db = Database(settings.effective_database_url)
    migrate.upgrade(db.engine)
    with db.session() as session:
        bank = banks.create_bank(session, BankCreate(name="FROM_A"), actor=SYSTEM)
    yield Partner(db=db, settings=settings, bank_id=bank.id)
    db.dispose()


@pytest.fixture
def shared(live_server: LiveServer, admin_key: str, make_key: KeyFactory) -> dict[str, Any]:
    """Deployment A: bank SHARED with entries, published, and a partner key."""
    with live_server.db.session() as session:
        banks.create_bank(session, BankCreate(name="SHARED", labels=["A1", "B1"]), actor=SYSTEM)
        banks.add_entries(
            session,
            "SHARED",
            [EntryIn(signal_type="pdq", value=pdq_of(i), labels=["A1"]) for i in range(5)]
            + [EntryIn(signal_type="md5", value=md5_of(i)) for i in range(3)],
            actor=SYSTEM,
        )
    headers = auth(admin_key)
    shared = httpx.put(f"{live_server.url}/v1/exchange/shares/SHARED", headers=headers)
    assert shared.status_code == 200, shared.text
    partner_key = make_key([Scope.EXCHANGE_READ], kind=KeyKind.INTEGRATION, name="partner B")
    key = httpx.get(f"{live_server.url}/v1/exchange/signing-key", headers=auth(partner_key)).json()[
        "signing_key"
    ]
    assert key == shared.json()["signing_key"]
    return {"url": live_server.url, "key": partner_key, "public": key}


def test_two_deployments_share_a_bank_with_additions_changes_and_removals(
    live_server: LiveServer, shared: dict[str, Any], partner: Partner
) -> None:
    partner.connect(shared["url"], shared["key"], shared["public"])
    run = partner.fetch()
    assert run.status == "succeeded", run.error
    assert run.added == 8
    values = live_values(partner.db, partner.bank_id)
    assert values[("pdq", pdq_of(0))] == ["A1"]
    assert values[("md5", md5_of(2))] == []
    # A changes its bank: a removal, a relabel, an addition
    with live_server.db.session() as session:
        bank = banks.get_bank(session, "SHARED")
        entries = {e.value: e.id for e in banks.repository.list_entries(session, bank.id)}
        banks.remove_entry(session, "SHARED", entries[pdq_of(1)], actor=SYSTEM)
        banks.update_entry(
            session, "SHARED", entries[pdq_of(2)], EntryUpdate(labels=["B1"]), actor=SYSTEM
        )
        banks.add_entries(
            session, "SHARED", [EntryIn(signal_type="pdq", value=pdq_of(9))], actor=SYSTEM
        )
    run = partner.fetch()
    assert (run.status, run.added, run.removed, run.updated) == ("succeeded", 1, 1, 1)
    values = live_values(partner.db, partner.bank_id)
    assert ("pdq", pdq_of(1)) not in values
    assert values[("pdq", pdq_of(2))] == ["B1"]
    assert ("pdq", pdq_of(9)) in values
    assert len(values) == 8
    # caught up: nothing more
    assert partner.fetch().records == 0
    # A counted what it shared; only counts in the events
    with live_server.db.session() as session:
        served = session.scalars(select(Event).where(Event.kind == "exchange.feed_served")).all()
    assert sum(e.payload["items"] for e in served) == 8 + 3
    assert all(pdq_of(0) not in str(e.payload) for e in served)


def test_pages_are_small_and_the_cursor_moves(
    live_server: LiveServer, shared: dict[str, Any]
) -> None:
    url = f"{shared['url']}/v1/exchange/feeds/SHARED"
    first = httpx.get(url, params={"limit": 3}, headers=auth(shared["key"]))
    assert first.status_code == 200
    page = first.json()
    assert (page["version"], page["bank"], page["cursor"], page["has_more"]) == (
        1,
        "SHARED",
        "0",
        True,
    )
    assert len(page["items"]) == 3
    assert set(page["items"][0]) == {"id", "signal_type", "value", "labels", "removed"}
    public = signing.parse_public_key(shared["public"])
    signing.verify(public, first.headers[signing.HEADER], first.content)
    with pytest.raises(signing.SignatureInvalid):
        signing.verify(public, first.headers[signing.HEADER], first.content + b" ")
    second = httpx.get(
        url, params={"limit": 10, "cursor": page["next_cursor"]}, headers=auth(shared["key"])
    ).json()
    assert len(second["items"]) == 5
    assert not second["has_more"]
    ids = [i["id"] for i in page["items"] + second["items"]]
    assert len(set(ids)) == 8


def test_the_feed_refuses_unshared_banks_bad_cursors_and_keys_without_the_scope(
    live_server: LiveServer, shared: dict[str, Any], make_key: KeyFactory, admin_key: str
) -> None:
    base = f"{shared['url']}/v1/exchange/feeds"
    with live_server.db.session() as session:
        banks.create_bank(session, BankCreate(name="PRIVATE"), actor=SYSTEM)
    partner = auth(shared["key"])
    private = httpx.get(f"{base}/PRIVATE", headers=partner)
    missing = httpx.get(f"{base}/NOPE", headers=partner)
    assert private.status_code == missing.status_code == 404
    assert "PRIVATE" in private.json()["detail"]
    assert private.json()["title"] == missing.json()["title"]
    assert httpx.get(f"{base}/SHARED", params={"cursor": "x"}, headers=partner).status_code == 422
    scanner = auth(make_key([Scope.SCAN], kind=KeyKind.INTEGRATION, name="scanner"))
    assert httpx.get(f"{base}/SHARED", headers=scanner).status_code == 403
    assert httpx.get(f"{base}/SHARED").status_code == 401
    # unsharing closes the feed
    assert (
        httpx.delete(
            f"{shared['url']}/v1/exchange/shares/SHARED", headers=auth(admin_key)
        ).status_code
        == 204
    )
    assert httpx.get(f"{base}/SHARED", headers=partner).status_code == 404


def test_a_page_signed_by_another_key_is_not_used(
    live_server: LiveServer, shared: dict[str, Any], partner: Partner
) -> None:
    other = signing.public_key_text(signing.signing_key(b"\x01" * 32))
    partner.connect(shared["url"], shared["key"], other)
    run = partner.fetch()
    assert run.status == "failed"
    assert "signed by another key" in (run.error or "")
    assert live_values(partner.db, partner.bank_id) == {}


def test_a_wrong_partner_key_fails_in_plain_words(
    live_server: LiveServer, shared: dict[str, Any], partner: Partner
) -> None:
    partner.connect(shared["url"], "sw_wrong_key", shared["public"])
    run = partner.fetch()
    assert run.status == "failed"
    assert "401" in (run.error or "")


def test_a_page_is_cut_short_before_it_grows_too_large(
    db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shieldwall.exchanges import feed

    with db.session() as session:
        banks.create_bank(session, BankCreate(name="BIG"), actor=SYSTEM)
        banks.add_entries(
            session,
            "BIG",
            [EntryIn(signal_type="pdq", value=pdq_of(i)) for i in range(5)],
            actor=SYSTEM,
        )
        service.share_bank(session, settings, "BIG", actor=SYSTEM)
    monkeypatch.setattr(feed, "MAX_PAGE_CHARS", 400)  # about two PDQ items
    cursor, seen = "0", []
    with db.session() as session:
        while True:
            body, _ = feed.feed_page(
                session, settings, "BIG", cursor=cursor, limit=100, actor=SYSTEM
            )
            page = json.loads(body)
            assert 1 <= len(page["items"]) <= 3
            seen += [item["value"] for item in page["items"]]
            cursor = page["next_cursor"]
            if not page["has_more"]:
                break
    assert sorted(seen) == sorted(pdq_of(i) for i in range(5))


class DeepFeed(FakeService):
    """A partner whose pages are signed with its own key but nested past any JSON
    decoder's recursion limit."""

    key = signing.signing_key(b"\x02" * 32)

    def handle(self, request: Request) -> Reply:
        body = b"[" * 100_000 + b"]" * 100_000
        return Reply(200, body, {signing.HEADER: signing.sign(self.key, body)})


def test_a_signed_page_nested_too_deeply_fails_in_plain_words(partner: Partner) -> None:
    fake = DeepFeed()
    with Running(fake) as server:
        partner.connect(server.url, "sw_any_key", signing.public_key_text(fake.key))
        run = partner.fetch()
    assert run.status == "failed"
    assert "nested too deeply" in (run.error or ""), run.error
    assert live_values(partner.db, partner.bank_id) == {}
