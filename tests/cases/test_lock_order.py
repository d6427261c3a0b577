"""Decisions that change banks and bank edits at the same time never deadlock: both take the
bank change lock before the event chain lock (on PostgreSQL a wrong order is a deadlock)."""

from __future__ import annotations

import threading

import pytest

from shieldwall.banks import service as banks
from shieldwall.banks.schemas import BankCreate, EntryIn
from shieldwall.cases import service
from shieldwall.cases.schemas import Outcome
from shieldwall.config import Settings
from shieldwall.db.engine import Database
from shieldwall.users.models import User
from tests.cases.conftest import OpenCase, match_signal, md5_of, principal
from tests.conftest import SYSTEM

pytestmark = pytest.mark.db
ROUNDS = 6


def test_decisions_and_bank_edits_run_side_by_side(
    db: Database, settings: Settings, open_case: OpenCase, rita: User
) -> None:
    confirming = settings.model_copy(update={"case_confirm_bank": "CONFIRMED"})
    with db.session() as s:
        banks.create_bank(s, BankCreate(name="OTHER"), actor=SYSTEM)
        banks.create_bank(s, BankCreate(name="CONFIRMED"), actor=SYSTEM)
    cases = [open_case(f"post-{n}", signal=match_signal(n)) for n in range(ROUNDS)]
    errors: list[BaseException] = []

    def deciding() -> None:
        for case in cases:
            try:
                barrier.wait(timeout=30)
                with db.session() as s:
                    service.decide(
                        s,
                        confirming,
                        case.id,
                        outcome=Outcome.VIOLATING,
                        label="B1",
                        note="",
                        actor=principal(rita),
                    )
            except BaseException as exc:
                errors.append(exc)

    def editing() -> None:
        for n in range(ROUNDS):
            try:
                barrier.wait(timeout=30)
                with db.session() as s:
                    banks.add_entries(
                        s,
                        "OTHER",
                        [EntryIn(signal_type="md5", value=md5_of(1000 + n))],
                        actor=SYSTEM,
                    )
            except BaseException as exc:
                errors.append(exc)

    barrier = threading.Barrier(2)
    threads = [threading.Thread(target=deciding), threading.Thread(target=editing)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    with db.session() as s:
        page = service.queue(s, statuses=None)
        assert {c.status for c in page.items} == {"decided"}
