"""Withdrawing what a deleted exchange brought into its bank, in the background.

Deleting an exchange (:func:`shieldwall.exchanges.service.delete_exchange`) marks it
deleted, takes its fetch lease away and queues one outbox item of kind ``exchange.withdraw``
in the same transaction. The outbox worker then works through the exchange's live
provenance items a batch at a time (:data:`BATCH_ITEMS`), each batch in its own transaction
with its own bank ``change_seq``, by the rules a snapshot sweep applies
(:func:`shieldwall.exchanges.ingest.sweep`): the items are marked removed, and the bank
entries no other live item (of any exchange feeding that bank) carries are withdrawn;
entries added by hand or by reviewers are never removed. Every batch writes one
``exchange.withdrawn`` event with counts only.

Safe to repeat: a batch is one transaction, so a crash loses at most the batch under way,
and the next attempt starts from the items still live; once none is left, running again
removes nothing. One claim of the item works for at most half the outbox lease, then queues
a continuation item (``exchange.withdraw:<id>:<part>``) and ends, so a bank of millions of
entries never outlives a claim. A deleted exchange cannot be fetched, and a fetch under way
when it was deleted loses its lease (its next batch writes nothing), so nothing re-adds
entries behind the withdrawal. An exchange whose bank was deleted has nothing left to
withdraw: the job just finishes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from shieldwall.audit import service as audit
from shieldwall.banks.changes import change_seq
from shieldwall.banks.models import Bank
from shieldwall.config import Settings
from shieldwall.db.base import utcnow
from shieldwall.db.engine import Database
from shieldwall.exchanges import ingest
from shieldwall.exchanges.models import Exchange
from shieldwall.jobs.models import OutboxItem
from shieldwall.jobs.outbox import Handler, PermanentFailure, enqueue

KIND = "exchange.withdraw"
ACTOR = "system:exchange-withdraw"
PRINCIPLES = (10, 1)
#: Provenance items withdrawn per transaction.
BATCH_ITEMS = 5000
#: Every live item was last seen before this: a sweep up to it takes them all.
END_OF_TIME = datetime(9999, 1, 1, tzinfo=UTC)


def _key(exchange_id: int, part: int) -> str:
    return f"{KIND}:{exchange_id}" if part == 0 else f"{KIND}:{exchange_id}:{part}"


def _enqueue(session: Session, exchange_id: int, part: int) -> OutboxItem:
    return enqueue(
        session,
        kind=KIND,
        key=_key(exchange_id, part),
        payload={"exchange_id": exchange_id, "part": part},
        subject=f"exchange:{exchange_id}",
        principles=PRINCIPLES,
    )


def queue_withdrawal(session: Session, exchange: Exchange) -> OutboxItem:
    """Queue the withdrawal of a deleted exchange's entries, in the caller's transaction."""
    return _enqueue(session, exchange.id, 0)


@dataclass
class Withdrawn:
    items: int = 0
    removed: int = 0
    batches: int = 0
    #: Nothing is left to withdraw (or the bank is gone).
    done: bool = False


def withdraw_batch(
    session: Session, exchange_id: int, *, limit: int, after_id: int = 0
) -> tuple[int, int, int] | None:
    """Withdraw up to ``limit`` live items of the deleted exchange (with ids above
    ``after_id``) in the caller's transaction: (items, entries removed, last item id), or
    None when nothing is left (or the exchange or its bank is gone). Writes one
    ``exchange.withdrawn`` event for a batch that did something. Raises
    :class:`PermanentFailure` for an exchange that is not deleted."""
    exchange = session.get(Exchange, exchange_id)
    if exchange is None:
        return None
    if exchange.deleted_at is None:
        raise PermanentFailure("the exchange is not deleted; nothing was withdrawn")
    bank = session.get(Bank, exchange.bank_id)
    if bank is None or bank.deleted_at is not None:
        return None  # deleting the bank removed its entries already
    # Taken first: it locks the change head until commit, so two attempts of this job that
    # overlap (a claim that outlived its lease) take turns instead of counting twice.
    seq = change_seq(session)
    items, removed, last = ingest.sweep(
        session,
        exchange,
        bank,
        before=END_OF_TIME,
        seq=seq,
        now=utcnow(),
        limit=limit,
        after_id=after_id,
    )
    if not items:
        return None
    audit.record(
        session,
        "exchange.withdrawn",
        actor=ACTOR,
        subject=f"exchange:{exchange_id}",
        principles=PRINCIPLES,
        payload={"items": items, "removed": removed},
    )
    return items, removed, last


def withdraw(
    db: Database,
    exchange_id: int,
    *,
    batch_items: int = BATCH_ITEMS,
    seconds: float | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Withdrawn:
    """Withdraw batch after batch, each committed on its own, until nothing is left or
    ``seconds`` have passed (then ``done`` is False and another call continues)."""
    total = Withdrawn()
    stop_at = clock() + seconds if seconds is not None else None
    after = 0  # items are taken in id order: each batch continues after the last one
    while True:
        with db.session() as session:
            outcome = withdraw_batch(
                session, exchange_id, limit=max(1, batch_items), after_id=after
            )
            if outcome is None:
                session.rollback()  # nothing changed: give the change sequence number back
        if outcome is None:
            total.done = True
            return total
        total.items += outcome[0]
        total.removed += outcome[1]
        after = outcome[2]
        total.batches += 1
        if stop_at is not None and clock() >= stop_at:
            return total


def withdraw_handler(
    db: Database,
    settings: Settings,
    *,
    batch_items: int | None = None,
    seconds: float | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Handler:
    """The outbox handler factory for ``exchange.withdraw``. One claim works for at most
    ``seconds`` (default: half the outbox lease), then queues the next part and ends."""
    per_claim = seconds if seconds is not None else max(1.0, settings.outbox_lease_seconds / 2)

    def handle(item: OutboxItem) -> None:
        payload = dict(item.payload or {})
        exchange_id = int(payload.get("exchange_id", 0))
        part = int(payload.get("part", 0))
        result = withdraw(
            db,
            exchange_id,
            batch_items=batch_items or BATCH_ITEMS,
            seconds=per_claim,
            clock=clock,
        )
        if not result.done:
            with db.session() as session:
                _enqueue(session, exchange_id, part + 1)

    return handle
