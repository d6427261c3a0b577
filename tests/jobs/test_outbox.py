"""The outbox and its worker: sent after commit, retried with backoff, given up, contained."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from pydantic import SecretStr
from sqlalchemy import func, select

from shieldwall.actions import service as actions
from shieldwall.config import Settings
from shieldwall.db.engine import Database
from shieldwall.integrations.webhooks import verify
from shieldwall.jobs import handlers, outbox, repository
from shieldwall.jobs.models import OutboxItem, OutboxStatus
from shieldwall.jobs.outbox import OutboxWorker, PermanentFailure, RetryLater, backoff_delay
from tests.jobs.helpers import Clock, events, item_of, request
from tests.jobs.receiver import Receiver


def worker(db: Database, settings: Settings, clock: Clock, **options: object) -> OutboxWorker:
    return handlers.build_worker(db, settings, clock=clock, rng=random.Random(7), **options)


def count_items(db: Database) -> int:
    with db.session() as session:
        return int(session.scalar(select(func.count()).select_from(OutboxItem)) or 0)


# ---- enqueue -------------------------------------------------------------------------------


def test_enqueue_is_idempotent_on_key(db: Database) -> None:
    with db.session() as session:
        first = outbox.enqueue(session, kind="test.thing", key="k-1", payload={"n": 1})
    with db.session() as session:
        again = outbox.enqueue(session, kind="test.thing", key="k-1", payload={"n": 2})
        same_tx = outbox.enqueue(session, kind="test.thing", key="k-1", payload={"n": 3})
    assert again.id == first.id == same_tx.id
    assert again.payload == {"n": 1}
    assert count_items(db) == 1


def test_a_rolled_back_enqueue_leaves_nothing_to_send(
    db: Database, settings: Settings, receiver: Receiver
) -> None:
    def decide_then_fail() -> None:
        with db.session() as session:
            outbox.enqueue(session, kind="webhook", key="webhook:x", payload={"body": {"id": "x"}})
            raise RuntimeError("the decision failed after queueing")

    with pytest.raises(RuntimeError):
        decide_then_fail()
    assert count_items(db) == 0
    assert worker(db, settings, Clock()).run_once()["claimed"] == 0
    assert receiver.deliveries == []


@pytest.mark.parametrize(
    ("kind", "key", "payload", "message"),
    [
        ("Webhook", "k", {}, "outbox kind"),
        ("webhook.", "k", {}, "outbox kind"),
        ("webhook", "", {}, "outbox key"),
        ("webhook", "k" * 201, {}, "outbox key"),
        ("webhook", "k", {"when": object()}, "plain JSON"),
        ("webhook", "k", {"x": float("nan")}, "plain JSON"),
    ],
)
def test_enqueue_refuses_malformed_work(
    db: Database, kind: str, key: str, payload: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message), db.session() as session:
        outbox.enqueue(session, kind=kind, key=key, payload=payload)
    assert count_items(db) == 0


def test_not_before_delays_the_first_attempt(db: Database, settings: Settings) -> None:
    clock = Clock()
    calls: list[int] = []
    with db.session() as session:
        outbox.enqueue(
            session,
            kind="test.later",
            key="later",
            payload={},
            not_before=clock.now + timedelta(minutes=5),
        )
    w = worker(db, settings, clock, overrides={"test.later": lambda item: calls.append(item.id)})
    assert w.run_once()["claimed"] == 0
    clock.advance(minutes=5, seconds=1)
    assert w.run_once()["sent"] == 1
    assert len(calls) == 1


# ---- delivery ------------------------------------------------------------------------------


def test_webhook_is_signed_and_carries_a_stable_key(
    db: Database, settings: Settings, receiver: Receiver
) -> None:
    action = request(db, settings, key="case:7:content.remove", case_id=7)
    counts = worker(db, settings, Clock()).run_once()
    assert counts["sent"] == 1
    (delivery,) = receiver.wait_for(1)
    verify(delivery.headers["shieldwall-signature"], delivery.body, receiver.secret)
    assert delivery.key == "case:7:content.remove"
    assert delivery.headers["content-type"] == "application/json"
    assert delivery.headers["shieldwall-event"] == "content.remove"
    document = delivery.document
    assert document["id"] == "case:7:content.remove"
    assert document["type"] == "content.remove"
    assert document["created_at"].endswith("Z")
    assert document["data"] == {
        "case_id": 7,
        "subject_kind": "content",
        "subject_ref": "post-1",
        "labels": ["A1"],
        "reason": "violating: A1",
    }
    item = item_of(db, action)
    assert item.status == OutboxStatus.SENT
    assert item.attempts == 1
    assert item.finished_at is not None
    (event,) = events(db, "webhook.delivered")
    assert event.subject == f"action:{action.id}"
    assert event.principles == [2]
    assert event.payload == {"outbox_item_id": item.id, "attempts": 1}
    # Done is done: nothing more to send.
    assert worker(db, settings, Clock()).run_once()["claimed"] == 0
    assert len(receiver.deliveries) == 1


def test_receiver_down_for_hours_is_retried_with_capped_backoff(
    db: Database, settings: Settings, receiver: Receiver
) -> None:
    receiver.default_status = 503
    action = request(db, settings)
    clock = Clock()
    w = worker(db, settings, clock)
    delays: list[float] = []
    started = clock.now
    while clock.now - started < timedelta(hours=6):
        assert w.run_once()["retrying"] == 1
        item = item_of(db, action)
        assert item.status == OutboxStatus.PENDING
        assert item.last_error == "the webhook receiver answered 503"
        delay = (item.next_attempt_at - clock.now).total_seconds()
        ceiling = min(w.backoff_cap, w.backoff_base * 2 ** (item.attempts - 1))
        assert ceiling / 2 <= delay <= ceiling, (item.attempts, delay)
        delays.append(delay)
        # Not due yet: nothing is claimed a moment before the next attempt.
        clock.set(item.next_attempt_at - timedelta(seconds=1))
        assert w.run_once()["claimed"] == 0
        clock.set(item.next_attempt_at)
    assert max(delays) <= w.backoff_cap
    assert delays[-1] >= w.backoff_cap / 2  # reached the cap
    attempts_while_down = len(delays)
    receiver.default_status = 200
    assert w.run_once()["sent"] == 1
    deliveries = receiver.wait_for(attempts_while_down + 1)
    assert {d.key for d in deliveries} == {action.key}
    assert {d.body for d in deliveries} == {deliveries[0].body}  # the same bytes every time
    assert receiver.acted_on() == [action.key]
    assert item_of(db, action).attempts == attempts_while_down + 1
    assert len(events(db, "webhook.delivered")) == 1


def test_retry_after_from_the_receiver_is_honoured(
    db: Database, settings: Settings, receiver: Receiver
) -> None:
    receiver.statuses.append((429, {"Retry-After": "600"}))
    action = request(db, settings)
    clock = Clock()
    worker(db, settings, clock).run_once()
    item = item_of(db, action)
    assert item.last_error == "the webhook receiver answered 429"
    assert item.next_attempt_at >= clock.now + timedelta(seconds=600)


def test_gives_up_after_the_maximum_age(
    db: Database, settings: Settings, receiver: Receiver
) -> None:
    settings = settings.model_copy(update={"webhook_give_up_hours": 2.0})
    receiver.default_status = 502
    action = request(db, settings)
    clock = Clock()
    created = item_of(db, action).created_at
    w = worker(db, settings, clock)
    outcomes: list[str] = []
    for _ in range(100):
        counts = w.run_once()
        outcomes += [name for name in ("retrying", "dead") if counts[name]]
        item = item_of(db, action)
        if item.status != OutboxStatus.PENDING:
            break
        # Never scheduled past the deadline: the last attempt falls on it.
        assert item.next_attempt_at <= created + timedelta(hours=2)
        clock.set(item.next_attempt_at)
    assert outcomes[-1] == "dead"
    assert set(outcomes[:-1]) == {"retrying"}
    item = item_of(db, action)
    assert item.status == OutboxStatus.DEAD
    assert item.last_error is not None
    assert item.last_error.startswith("gave up after")
    assert clock.now >= created + timedelta(hours=2)
    (event,) = events(db, "webhook.failed")
    assert event.subject == f"action:{action.id}"
    assert event.payload["reason"] == "gave_up"
    sent_so_far = len(receiver.deliveries)
    clock.advance(days=3)
    assert w.run_once()["claimed"] == 0
    assert len(receiver.deliveries) == sent_so_far
    with db.session() as session:
        (out,) = actions.describe(session, [actions.get_action(session, action.id)])
    assert out.delivery.state == "dead"


def test_a_refusal_fails_for_good_without_retrying(
    db: Database, settings: Settings, receiver: Receiver
) -> None:
    receiver.default_status = 422
    action = request(db, settings)
    clock = Clock()
    assert worker(db, settings, clock).run_once()["failed"] == 1
    item = item_of(db, action)
    assert item.status == OutboxStatus.FAILED
    assert item.last_error == "the webhook receiver answered 422 (refused; not retried)"
    (event,) = events(db, "webhook.failed")
    assert event.payload == {"outbox_item_id": item.id, "attempts": 1, "reason": "refused"}
    clock.advance(hours=1)
    assert worker(db, settings, clock).run_once()["claimed"] == 0
    assert len(receiver.deliveries) == 1


@pytest.mark.parametrize("status", [401, 403, 404, 408, 500, 503])
def test_configuration_and_server_errors_are_retried(
    db: Database, settings: Settings, receiver: Receiver, status: int
) -> None:
    receiver.default_status = status
    action = request(db, settings)
    assert worker(db, settings, Clock()).run_once()["retrying"] == 1
    assert item_of(db, action).status == OutboxStatus.PENDING


def test_a_receiver_that_does_not_answer_in_time_is_retried(
    db: Database, settings: Settings, receiver: Receiver
) -> None:
    settings = settings.model_copy(update={"webhook_timeout_seconds": 0.3})
    receiver.hold = True  # answers only when released
    action = request(db, settings)
    assert worker(db, settings, Clock()).run_once()["retrying"] == 1
    assert item_of(db, action).last_error == "the webhook receiver did not answer within 0.3 s"


def test_an_unreachable_receiver_is_retried(db: Database, settings: Settings) -> None:
    settings = settings.model_copy(update={"webhook_url": "http://127.0.0.1:1/hook"})
    action = request(db, settings)
    assert worker(db, settings, Clock()).run_once()["retrying"] == 1
    assert "could not connect" in (item_of(db, action).last_error or "")


def test_without_a_secret_webhooks_wait_unsent(
    db: Database, settings: Settings, receiver: Receiver
) -> None:
    unsigned = settings.model_copy(update={"webhook_secret": None})
    action = request(db, unsigned)
    clock = Clock()
    assert worker(db, unsigned, clock).run_once()["retrying"] == 1
    assert "webhook_secret" in (item_of(db, action).last_error or "")
    assert receiver.deliveries == []
    clock.set(item_of(db, action).next_attempt_at)
    assert worker(db, settings, clock).run_once()["sent"] == 1
    assert receiver.wait_for(1)[0].key == action.key


def test_without_a_webhook_url_actions_are_recorded_not_sent(
    db: Database, settings: Settings, receiver: Receiver
) -> None:
    unset = settings.model_copy(update={"webhook_url": ""})
    action = request(db, unset)
    assert action.outbox_item_id is None
    assert count_items(db) == 0
    with db.session() as session:
        (out,) = actions.describe(session, [actions.get_action(session, action.id)])
    assert out.delivery.state == "not_sent"
    (event,) = events(db, "action.requested")
    assert event.payload["outbox_item_id"] is None


# ---- robustness ----------------------------------------------------------------------------


def test_an_unexpected_handler_error_is_retried_and_summarised_without_content(
    db: Database, settings: Settings
) -> None:
    def broken(item: OutboxItem) -> None:
        raise KeyError("report text: something a reviewer wrote")

    with db.session() as session:
        outbox.enqueue(session, kind="test.broken", key="b", payload={})
    counts = worker(db, settings, Clock(), overrides={"test.broken": broken}).run_once()
    assert counts["retrying"] == 1
    with db.session() as session:
        item = repository.get_by_key(session, "b")
        assert item is not None
        assert item.status == OutboxStatus.PENDING
        assert item.last_error == (
            "unexpected error in the test.broken handler (KeyError); see the server log"
        )


def test_one_bad_item_never_blocks_the_others(
    db: Database, settings: Settings, receiver: Receiver
) -> None:
    def poison(item: OutboxItem) -> None:
        raise RuntimeError("always")

    with db.session() as session:
        for n in range(3):
            outbox.enqueue(session, kind="test.poison", key=f"poison-{n}", payload={})
    good = [request(db, settings, key=f"case:{n}:content.remove", case_id=n) for n in range(1, 6)]
    counts = worker(db, settings, Clock(), overrides={"test.poison": poison}).run_once()
    assert counts["sent"] == 5
    assert counts["retrying"] == 3
    assert sorted(d.key for d in receiver.wait_for(5)) == sorted(a.key for a in good)


def test_handler_outcomes_map_to_states(db: Database, settings: Settings) -> None:
    def later(item: OutboxItem) -> None:
        raise RetryLater("the other side is busy", retry_after=30)

    def never(item: OutboxItem) -> None:
        raise PermanentFailure("the other side refused it")

    with db.session() as session:
        outbox.enqueue(session, kind="test.later", key="l", payload={}, subject="thing:1")
        outbox.enqueue(session, kind="test.never", key="n", payload={}, subject="thing:2")
    clock = Clock()
    w = worker(db, settings, clock, overrides={"test.later": later, "test.never": never})
    counts = w.run_once()
    assert (counts["retrying"], counts["failed"]) == (1, 1)
    with db.session() as session:
        retrying = repository.get_by_key(session, "l")
        refused = repository.get_by_key(session, "n")
        assert retrying is not None
        assert refused is not None
        assert retrying.last_error == "the other side is busy"
        assert retrying.next_attempt_at >= clock.now + timedelta(seconds=30)
        assert refused.status == OutboxStatus.FAILED
    (event,) = events(db, "test.never.failed")
    assert event.subject == "thing:2"


def test_a_worker_only_claims_kinds_it_has_a_handler_for(db: Database, settings: Settings) -> None:
    with db.session() as session:
        outbox.enqueue(session, kind="test.elsewhere", key="e", payload={})
    assert worker(db, settings, Clock()).run_once()["claimed"] == 0
    with db.session() as session:
        item = repository.get_by_key(session, "e")
        assert item is not None
        assert item.status == OutboxStatus.PENDING


def test_an_expired_lease_is_claimed_again_and_the_late_worker_changes_nothing(
    db: Database, settings: Settings, receiver: Receiver
) -> None:
    action = request(db, settings)
    clock = Clock()
    dead = worker(db, settings, clock, name="worker-that-dies")
    claimed = dead._claim()  # claims, then "dies" before sending
    assert claimed is not None
    assert claimed.attempts == 1
    other = worker(db, settings, clock, name="survivor")
    assert other.run_once()["claimed"] == 0  # still leased
    clock.set(claimed.lease_until + timedelta(seconds=1))  # type: ignore[operator]
    assert other.run_once()["sent"] == 1
    item = item_of(db, action)
    assert (item.status, item.attempts) == (OutboxStatus.SENT, 2)
    # The first worker wakes up late: its outcome no longer applies.
    assert dead._retry(claimed, "late", None) == "lost"
    assert item_of(db, action).status == OutboxStatus.SENT
    assert len(events(db, "webhook.delivered")) == 1


def test_backoff_grows_exponentially_with_jitter_up_to_the_cap() -> None:
    rng = random.Random(1)
    for attempts in range(1, 40):
        ceiling = min(3600.0, 10.0 * 2 ** (attempts - 1))
        samples = [backoff_delay(attempts, base=10, cap=3600, rng=rng) for _ in range(50)]
        assert all(ceiling / 2 <= s <= ceiling for s in samples)
        assert len(set(samples)) > 1  # jittered


def test_registered_kinds_are_built_into_workers(db: Database, settings: Settings) -> None:
    seen: list[str] = []

    def factory(database: Database, s: Settings) -> outbox.Handler:
        return lambda item: seen.append(item.key)

    handlers.register("test.registered", factory, give_up_after=lambda s: timedelta(days=30))
    try:
        w = handlers.build_worker(db, settings)
        assert set(w.handlers) >= {"webhook", "test.registered"}
        assert w.max_age("test.registered") == timedelta(days=30)
        assert w.max_age("webhook") == timedelta(hours=settings.webhook_give_up_hours)
        with db.session() as session:
            outbox.enqueue(session, kind="test.registered", key="r", payload={})
        assert w.run_once()["sent"] == 1
        assert seen == ["r"]
        assert len(events(db, "test.registered.delivered")) == 1
    finally:
        handlers.unregister("test.registered")
    with pytest.raises(ValueError, match="outbox kind"):
        handlers.register("Bad Kind", factory)


def test_secret_is_not_needed_in_settings_display(settings: Settings) -> None:
    shown = settings.model_copy(update={"webhook_secret": SecretStr("s3cret")}).display()
    assert shown["webhook_secret"] == "********"


def test_a_kind_whose_handler_cannot_load_leaves_the_others_working(
    db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(handlers.BUILTIN, "test.missing", "shieldwall.no_such_module:handler")
    w = handlers.build_worker(db, settings)
    assert "test.missing" not in w.handlers
    assert "webhook" in w.handlers
