"""Reviewers' decisions on hash matches go back to NCMEC and StopNCII through the outbox,
retried until accepted and sent once."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import select

from shieldwall.audit.models import Event
from shieldwall.banks.models import Bank, BankEntry
from shieldwall.cases import service as cases
from shieldwall.cases.schemas import CaseSource, Outcome, SignalIn, Subject
from shieldwall.config import Settings
from shieldwall.core.access import Role
from shieldwall.db.engine import Database
from shieldwall.devtools.fake_ncmec import FakeNcmec, entry, md5_for
from shieldwall.devtools.fake_stopncii import FakeStopNcii, pdq_for, record
from shieldwall.exchanges import feedback
from shieldwall.jobs import handlers
from shieldwall.jobs.models import OutboxItem
from shieldwall.users.service import principal_for
from tests.conftest import SYSTEM, make_user
from tests.exchanges.conftest import (
    NCMEC_CREDENTIALS,
    STOPNCII_CREDENTIALS,
    Fetch,
    MakeExchange,
)
from tests.exchanges.dns import FlakyDns
from tests.exchanges.proxy import ForwardProxy
from tests.jobs.helpers import Clock

T0 = 1_700_000_000


def entry_id_of(db: Database, bank: Bank, value: str) -> int:
    with db.session() as session:
        return int(
            session.scalars(
                select(BankEntry.id).where(BankEntry.bank_id == bank.id, BankEntry.value == value)
            ).one()
        )


def decide(db: Database, settings: Settings, entry_ids: list[int], outcome: Outcome) -> int:
    reviewer = make_user(db, f"rev{len(entry_ids)}{outcome.value}", Role.REVIEWER)
    with db.session() as session:
        case = cases.attach_signal(
            session,
            settings,
            subject=Subject(kind="content", ref=f"post-{outcome.value}"),
            signal=SignalIn(
                source=CaseSource.HASH_MATCH,
                principles=[1],
                summary={"scan_id": "s1", "entries": entry_ids},
                labels=["A1"],
                ref=f"scan:{outcome.value}:hash_match",
            ),
            actor=SYSTEM,
        )
        case_id = case.id
    with db.session() as session:
        cases.decide(
            session,
            settings,
            case_id,
            outcome=outcome,
            label="A1" if outcome is Outcome.VIOLATING else None,
            note="",
            actor=principal_for(reviewer),
        )
    return case_id


def stopncii_with_feedback(make_exchange: MakeExchange, url: str) -> str:
    return make_exchange(
        "stopncii",
        "stop_ncii",
        {"base_url": url},
        credentials=STOPNCII_CREDENTIALS,
        feedback=True,
    )


def one_confirmed_match(
    fake: FakeStopNcii,
    url: str,
    make_exchange: MakeExchange,
    fetch: Fetch,
    db: Database,
    bank: Bank,
    settings: Settings,
) -> None:
    """pdq_for(7) fetched from StopNCII at ``url`` (feedback on), and a reviewer's confirmed
    match on it: one feedback item queued."""
    fake.set_records([record(pdq_for(7), ts=T0)])
    assert fetch(stopncii_with_feedback(make_exchange, url)).added == 1
    decide(db, settings, [entry_id_of(db, bank, pdq_for(7))], Outcome.VIOLATING)


def worker(db: Database, settings: Settings, clock: Clock) -> Any:
    return handlers.build_worker(db, settings, clock=clock)


def test_confirmed_and_false_positive_matches_reach_stopncii_once(
    stopncii: tuple[FakeStopNcii, str],
    make_exchange: MakeExchange,
    fetch: Fetch,
    db: Database,
    bank: Bank,
    settings: Settings,
) -> None:
    fake, url = stopncii
    fake.set_records([record(pdq_for(i), ts=T0 + i) for i in range(3)])
    name = stopncii_with_feedback(make_exchange, url)
    assert fetch(name).added == 3
    confirmed = decide(db, settings, [entry_id_of(db, bank, pdq_for(0))], Outcome.VIOLATING)
    decide(db, settings, [entry_id_of(db, bank, pdq_for(1))], Outcome.NOT_VIOLATING)
    with db.session() as session:
        items = session.scalars(select(OutboxItem).where(OutboxItem.kind == "exchange.feedback"))
        payloads = [i.payload for i in items]
    assert len(payloads) == 2
    assert all(pdq_for(0) not in str(p) for p in payloads)  # ids only
    # the source is busy at first: retried later, then accepted exactly once each
    fake.feedback_failures = [503, 429]
    clock = Clock()
    first = worker(db, settings, clock).run_once()
    assert fake.feedback == []
    clock.advance(hours=1)
    worker(db, settings, clock).run_once()
    clock.advance(hours=1)
    worker(db, settings, clock).run_once()
    assert len(fake.feedback) == 2, first
    sent = {
        f["hashFeedbacks"][0]["hashValue"]: f["hashFeedbacks"][0]["feedbackValue"]
        for f in fake.feedback
    }
    assert sent == {pdq_for(0): "Blocked", pdq_for(1): "NotBlocked"}
    # deciding again (a retried request) queues nothing new; nothing more is sent
    with db.session() as session:
        case = cases.get_case(session, confirmed)
        feedback.on_decision(session, settings, case, SYSTEM)
    clock.advance(hours=1)
    worker(db, settings, clock).run_once()
    assert len(fake.feedback) == 2
    with db.session() as session:
        kinds = session.scalars(select(Event.kind).where(Event.kind.like("exchange.feedback%")))
        kinds_list = list(kinds)
    assert kinds_list.count("exchange.feedback_queued") == 2
    assert kinds_list.count("exchange.feedback.delivered") == 2


def test_confirmed_matches_reach_ncmec_as_upvotes_and_false_positives_as_downvotes(
    ncmec: tuple[FakeNcmec, str],
    make_exchange: MakeExchange,
    fetch: Fetch,
    db: Database,
    bank: Bank,
    settings: Settings,
) -> None:
    fake, url = ncmec
    fake.add(
        entry("img1", ts=T0, fingerprints={"md5": md5_for(1)}),
        entry("img2", ts=T0, fingerprints={"md5": md5_for(2)}),
    )
    name = make_exchange(
        "ncmec", "ncmec", {"base_url": url}, credentials=NCMEC_CREDENTIALS, feedback=True
    )
    fetch(name)
    decide(db, settings, [entry_id_of(db, bank, md5_for(1))], Outcome.VIOLATING)
    decide(db, settings, [entry_id_of(db, bank, md5_for(2))], Outcome.NOT_VIOLATING)
    worker(db, settings, Clock()).run_once()
    by_entry = {f["entry"]: f for f in fake.feedback}
    assert set(by_entry) == {"img1", "img2"}
    assert by_entry["img1"]["fingerprint"] == "MD5"
    assert by_entry["img1"]["member"] == "42"
    assert "affirmative" in by_entry["img1"]["body"]
    assert "negative" in by_entry["img2"]["body"]
    assert "fp-guid-1" in by_entry["img2"]["body"]  # NCMEC's only reason, picked by pytx


def test_an_entry_id_that_looks_like_a_path_stays_one_path_segment(
    ncmec: tuple[FakeNcmec, str],
    make_exchange: MakeExchange,
    fetch: Fetch,
    db: Database,
    bank: Bank,
    settings: Settings,
) -> None:
    """pytx writes the entry id into the feedback URL's path as it is; an id with "/",
    "..", "?" or "#" must not take the PUT (and its credentials) to another path."""
    fake, url = ncmec
    odd = "img/../../status?x=1#y"
    fake.add(entry(odd, ts=T0, fingerprints={"md5": md5_for(3)}))
    name = make_exchange(
        "ncmec", "ncmec", {"base_url": url}, credentials=NCMEC_CREDENTIALS, feedback=True
    )
    assert fetch(name).added == 1
    decide(db, settings, [entry_id_of(db, bank, md5_for(3))], Outcome.VIOLATING)
    worker(db, settings, Clock()).run_once()
    assert [(f["member"], f["entry"], f["fingerprint"]) for f in fake.feedback] == [
        ("42", odd, "MD5")
    ]
    puts = [r for r in fake.requests if r.method == "PUT"]
    assert len(puts) == 1
    assert puts[0].path.endswith("/MD5/feedback")


def test_no_feedback_unless_switched_on_and_refusals_fail_in_plain_words(
    stopncii: tuple[FakeStopNcii, str],
    make_exchange: MakeExchange,
    fetch: Fetch,
    db: Database,
    bank: Bank,
    settings: Settings,
) -> None:
    fake, url = stopncii
    fake.set_records([record(pdq_for(i), ts=T0 + i) for i in range(2)])
    quiet = make_exchange("quiet", "stop_ncii", {"base_url": url}, credentials=STOPNCII_CREDENTIALS)
    fetch(quiet)
    decide(db, settings, [entry_id_of(db, bank, pdq_for(0))], Outcome.VIOLATING)
    feedback_items = select(OutboxItem).where(OutboxItem.kind == "exchange.feedback")
    with db.session() as session:
        assert session.scalars(feedback_items).all() == []
    keyless = {k: v for k, v in STOPNCII_CREDENTIALS.items() if k != "feedback_function_key"}
    loud = make_exchange(
        "loud",
        "stop_ncii",
        {"base_url": url, "start_timestamp": 0},
        credentials=keyless,
        feedback=True,
    )
    fetch(loud)
    decide(db, settings, [entry_id_of(db, bank, pdq_for(1))], Outcome.NOT_VIOLATING)
    worker(db, settings, Clock()).run_once()
    with db.session() as session:
        item = session.scalars(feedback_items).one()
    assert item.status == "failed"
    assert "feedback_function_key" in (item.last_error or "")
    assert fake.feedback == []


@pytest.fixture(autouse=True)
def _hooks_loaded() -> None:
    assert feedback.on_decision in cases.decision_hooks(CaseSource.HASH_MATCH)


def test_feedback_goes_through_the_exchange_proxy(
    stopncii: tuple[FakeStopNcii, str],
    make_exchange: MakeExchange,
    fetch: Fetch,
    db: Database,
    bank: Bank,
    settings: Settings,
) -> None:
    fake, url = stopncii
    one_confirmed_match(fake, url, make_exchange, fetch, db, bank, settings)
    with ForwardProxy() as proxy:
        proxied = settings.model_copy(update={"exchange_proxy_url": SecretStr(proxy.url)})
        worker(db, proxied, Clock()).run_once()
    assert len(fake.feedback) == 1
    assert [(p.method, p.url.startswith(f"{url}/")) for p in proxy.seen] == [("POST", True)]


def test_feedback_waits_out_a_resolver_outage_instead_of_giving_up(
    stopncii: tuple[FakeStopNcii, str],
    make_exchange: MakeExchange,
    fetch: Fetch,
    db: Database,
    bank: Bank,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The source is reached by name. While the name does not resolve (a resolver timeout),
    # the feedback stays queued and is retried; it is not refused for good.
    fake, url = stopncii
    dns = FlakyDns("stopncii.partner.test", failures=0)
    monkeypatch.setattr(socket, "getaddrinfo", dns)
    named = url.replace("127.0.0.1", "stopncii.partner.test")
    one_confirmed_match(fake, named, make_exchange, fetch, db, bank, settings)

    dns.down = True
    clock = Clock()
    worker(db, settings, clock).run_once()
    with db.session() as session:
        item = session.scalars(
            select(OutboxItem).where(OutboxItem.kind == "exchange.feedback")
        ).one()
    assert item.status == "pending"
    assert "does not resolve" in (item.last_error or "")
    assert fake.feedback == []

    dns.down = False
    clock.advance(hours=1)
    worker(db, settings, clock).run_once()
    assert [f["hashFeedbacks"][0]["hashValue"] for f in fake.feedback] == [pdq_for(7)]
    with db.session() as session:
        assert session.get(OutboxItem, item.id).status == "sent"  # type: ignore[union-attr]
