"""The demo installation: a bank of stand-in pictures that a new user can scan."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from shieldwall.banks.models import Bank, BankEntry
from shieldwall.config import Settings
from shieldwall.core.hashing import hash_file
from shieldwall.db.engine import Database
from shieldwall.demo import DEMO_BANK, seed_demo
from shieldwall.matching.index import MatchIndex
from shieldwall.matching.service import Matcher, signals_of


def test_demo_bank_blocks_its_pictures_and_near_duplicates(
    settings: Settings, db: Database
) -> None:
    seed_demo(db, settings)
    seed_demo(db, settings)  # idempotent
    with db.session() as s:
        banks = s.scalars(select(Bank).where(Bank.name == DEMO_BANK)).all()
        assert len(banks) == 1
        in_bank = select(func.count()).where(BankEntry.bank_id == banks[0].id)
        assert s.scalar(in_bank) == 6
    index = MatchIndex(db, settings)
    index.load()
    folder = Path(settings.data_dir) / "demo-images"
    verdicts = {}
    with db.session() as s:
        matcher = Matcher(s, index, quality_floor=50)
        for name in ("known-2.jpg", "known-1-edited.jpg", "unknown.jpg"):
            signals, _ = signals_of(hash_file(folder / name))
            verdicts[name] = matcher.lookup(signals).verdict.value
    assert verdicts == {
        "known-2.jpg": "block",
        "known-1-edited.jpg": "block",
        "unknown.jpg": "allow",
    }
