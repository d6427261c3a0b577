"""The per-process MatchIndex across restarts: saved files, catch-up, damage, readiness, vPDQ.

The index is driven by hand here (``load()``, ``sync()``, ``save()``), never by its thread,
so every step is deterministic. Bank changes go through :mod:`shieldwall.banks.service`,
committed as a request would commit them.
"""

from __future__ import annotations

import shutil
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from shieldwall.banks import service as banks
from shieldwall.banks.changes import current_seq
from shieldwall.banks.models import BankEntry
from shieldwall.banks.schemas import BankCreate, EntryIn
from shieldwall.config import Settings
from shieldwall.core.errors import ServiceUnavailable
from shieldwall.core.signals import PdqHash, PdqSignal, SignalType, VpdqHash
from shieldwall.db.engine import Database
from shieldwall.matching.index import IndexState, MatchIndex
from shieldwall.matching.service import Matcher, QuerySignal
from tests.conftest import PG_URL, SYSTEM, auth

A, B, C, D = PdqSignal.get_examples()
VPDQ_HASHES = Path(__file__).resolve().parents[3] / "shared/data/vpdq-reference/sample-hashes"
needs_vpdq_samples = pytest.mark.skipif(
    not VPDQ_HASHES.exists(), reason="../shared/data/vpdq-reference is not beside the checkout"
)


# ---- helpers ------------------------------------------------------------------------------


def make_bank(db: Database, name: str = "KNOWN", **options: object) -> None:
    with db.session() as session:
        banks.create_bank(
            session, BankCreate.model_validate({"name": name, **options}), actor=SYSTEM
        )


def add(db: Database, bank: str, signal_type: str, *values: str) -> list[int]:
    with db.session() as session:
        added = banks.add_entries(
            session,
            bank,
            [EntryIn(signal_type=signal_type, value=v) for v in values],
            actor=SYSTEM,
        )
    return [item.id for item in added.items]


def remove(db: Database, bank: str, entry_id: int) -> None:
    with db.session() as session:
        banks.remove_entry(session, bank, entry_id, actor=SYSTEM)


def pdq_ids(index: MatchIndex, value: str) -> list[int]:
    """Entry ids the index holds at distance 0 from ``value``."""
    return [entry_id for entry_id, _ in index.query_pdq(bytes.fromhex(value), 0)]


def head(db: Database) -> int:
    with db.session() as session:
        return current_seq(session)


def live_perceptual(db: Database) -> int:
    with db.session() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(BankEntry)
                .where(BankEntry.removed_at.is_(None), BankEntry.signal_type == "pdq")
            )
            or 0
        )


@pytest.fixture
def index(db: Database, settings: Settings) -> Iterator[MatchIndex]:
    built = MatchIndex(db, settings)
    yield built
    built.stop(save=False)


def no_rebuild(self: MatchIndex) -> None:
    raise AssertionError("the index rebuilt from the database instead of loading its file")


def spy_rebuild(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Record each rebuild from the database (and still do it)."""
    calls: list[bool] = []
    original = MatchIndex._rebuild

    def spy(self: MatchIndex) -> None:
        calls.append(True)
        original(self)

    monkeypatch.setattr(MatchIndex, "_rebuild", spy)
    return calls


# ---- loading, saving, catching up -----------------------------------------------------------


def test_load_builds_from_the_database(db: Database, index: MatchIndex) -> None:
    make_bank(db)
    first, second = add(db, "KNOWN", "pdq", A, B)
    add(db, "KNOWN", "md5", "d41d8cd98f00b204e9800998ecf8427e")  # exact: not in the index

    index.load()

    assert index.readiness()[0]
    assert len(index.pdq) == 2
    assert pdq_ids(index, A) == [first]
    assert pdq_ids(index, B) == [second]
    assert pdq_ids(index, C) == []
    assert index.watermark == head(db)
    assert {b.name for b in index.bank_snapshot().values()} == {"KNOWN"}


def test_save_writes_both_files_in_the_index_format(
    db: Database, index: MatchIndex, settings: Settings
) -> None:
    make_bank(db)
    add(db, "KNOWN", "pdq", A)
    index.load()
    index.save()
    folder = settings.data_dir / "index"
    for name in ("pdq.swidx", "vpdq-frames.swidx"):
        data = (folder / name).read_bytes()
        assert data.startswith(b"\x89SWIDX\r\n"), name
    assert not list(folder.glob("*.tmp*")), "the atomic write left a temporary file"


def test_a_new_process_loads_the_file_then_catches_up(
    db: Database, index: MatchIndex, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_bank(db)
    kept, dropped = add(db, "KNOWN", "pdq", A, B)
    index.load()
    index.save()
    saved_at = index.watermark

    # changes made after the save, while "no process is running"
    [later] = add(db, "KNOWN", "pdq", C)
    remove(db, "KNOWN", dropped)
    assert head(db) > saved_at

    monkeypatch.setattr(MatchIndex, "_rebuild", no_rebuild)
    restarted = MatchIndex(db, settings)
    restarted.load()

    assert restarted.readiness()[0]
    assert pdq_ids(restarted, A) == [kept]
    assert pdq_ids(restarted, B) == [], "an entry removed after the save is still indexed"
    assert pdq_ids(restarted, C) == [later], "an entry added after the save is missing"
    assert len(restarted.pdq) == 2
    assert restarted.watermark == head(db)

    # and it keeps following the database afterwards
    [revived] = add(db, "KNOWN", "pdq", B)
    assert restarted.sync() == 1
    assert pdq_ids(restarted, B) == [revived]


def test_saving_again_after_catch_up_keeps_the_new_state(
    db: Database, index: MatchIndex, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_bank(db)
    add(db, "KNOWN", "pdq", A)
    index.load()
    index.save()
    [later] = add(db, "KNOWN", "pdq", B)
    index.sync()
    index.save()

    monkeypatch.setattr(MatchIndex, "_rebuild", no_rebuild)
    monkeypatch.setattr(MatchIndex, "sync", lambda self: 0)  # the file alone must hold B
    restarted = MatchIndex(db, settings)
    restarted.load()
    assert pdq_ids(restarted, B) == [later]
    assert restarted.watermark == head(db)


# ---- damaged or foreign files -----------------------------------------------------------------


def _flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


@pytest.mark.parametrize(
    ("damage", "which"),
    [
        (lambda p: _flip(p, len(p.read_bytes()) // 2), "pdq.swidx"),  # in the hash arrays
        (lambda p: _flip(p, 0), "pdq.swidx"),  # the magic
        (lambda p: _flip(p, len(p.read_bytes()) - 1), "pdq.swidx"),  # the checksum
        (_truncate, "pdq.swidx"),
        (_truncate, "vpdq-frames.swidx"),
        (lambda p: p.write_bytes(b""), "pdq.swidx"),
        (lambda p: p.write_bytes(b"\x80\x04not an index, and never a pickle"), "pdq.swidx"),
    ],
    ids=[
        "flip-data",
        "flip-magic",
        "flip-checksum",
        "truncate-pdq",
        "truncate-frames",
        "empty",
        "garbage",
    ],
)
def test_a_damaged_file_is_refused_and_the_index_rebuilt(
    db: Database,
    index: MatchIndex,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    damage: object,
    which: str,
) -> None:
    make_bank(db)
    first, second = add(db, "KNOWN", "pdq", A, B)
    index.load()
    index.save()
    remove(db, "KNOWN", second)
    [third] = add(db, "KNOWN", "pdq", C)
    damage(settings.data_dir / "index" / which)  # type: ignore[operator]

    rebuilt = spy_rebuild(monkeypatch)
    restarted = MatchIndex(db, settings)
    restarted.load()

    assert rebuilt == [True], "a damaged file was accepted"
    assert restarted.readiness()[0]
    assert pdq_ids(restarted, A) == [first]
    assert pdq_ids(restarted, B) == []
    assert pdq_ids(restarted, C) == [third]
    assert len(restarted.pdq) == live_perceptual(db) == 2


def test_files_from_two_different_saves_are_refused(
    db: Database, index: MatchIndex, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pdq.swidx and vpdq-frames.swidx must describe the same moment."""
    make_bank(db)
    add(db, "KNOWN", "pdq", A)
    index.load()
    index.save()
    folder = settings.data_dir / "index"
    old_frames = (folder / "vpdq-frames.swidx").read_bytes()
    [later] = add(db, "KNOWN", "pdq", B)
    index.sync()
    index.save()
    (folder / "vpdq-frames.swidx").write_bytes(old_frames)

    rebuilt = spy_rebuild(monkeypatch)
    restarted = MatchIndex(db, settings)
    restarted.load()
    assert rebuilt == [True]
    assert pdq_ids(restarted, B) == [later]


@pytest.mark.skipif(bool(PG_URL), reason="restores a SQLite file")
def test_a_file_ahead_of_the_database_is_refused(
    db: Database, index: MatchIndex, settings: Settings, tmp_path: Path
) -> None:
    """The database was restored from a backup taken before the index was saved (or the data
    folder now sits beside a new database): the file's watermark is ahead of the database's
    change log. Loading it would keep entries the database no longer has, under ids the
    database hands out again, and skip the new entries whose sequence numbers are not above
    the stale watermark."""
    make_bank(db)
    backup = tmp_path / "backup.db"
    source = sqlite3.connect(str(db.engine.url.database))
    target = sqlite3.connect(backup)
    source.backup(target)
    source.close()
    target.close()

    [gone] = add(db, "KNOWN", "pdq", A)
    add(db, "KNOWN", "pdq", C)
    index.load()
    index.save()
    saved_at = index.watermark
    db.dispose()

    restored = tmp_path / "restored.db"
    shutil.copyfile(backup, restored)
    restored_db = Database(f"sqlite:///{restored}")
    try:
        [fresh] = add(restored_db, "KNOWN", "pdq", B)
        assert head(restored_db) < saved_at  # the situation under test
        restarted = MatchIndex(restored_db, settings.model_copy())
        restarted.load()
        assert pdq_ids(restarted, B) == [fresh], "an entry of the restored database is missing"
        assert pdq_ids(restarted, A) == [], (
            f"the index still holds entry {gone}'s hash from before the restore"
        )
    finally:
        restored_db.dispose()


# ---- readiness -------------------------------------------------------------------------------


def test_readiness_before_during_and_after_loading(
    db: Database, index: MatchIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_bank(db)
    add(db, "KNOWN", "pdq", A)
    ok, detail = index.readiness()
    assert not ok
    assert "starting" in detail
    with pytest.raises(ServiceUnavailable, match="retry shortly"):
        index.require_ready()

    seen_while_loading: list[tuple[bool, str]] = []
    original = MatchIndex._rebuild

    def observe(self: MatchIndex) -> None:
        seen_while_loading.append(self.readiness())
        original(self)

    monkeypatch.setattr(MatchIndex, "_rebuild", observe)
    index.load()
    assert len(seen_while_loading) == 1
    ok, detail = seen_while_loading[0]
    assert not ok
    assert "loading" in detail
    assert index.readiness() == (True, "ready: 1 pdq, 0 vpdq frames")
    index.require_ready()


def test_readiness_turns_stale_without_updates_and_recovers(
    db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = MatchIndex(db, settings.model_copy(update={"index_stale_seconds": 5.0}))
    index.load()
    assert index.readiness()[0]

    real = time.monotonic
    monkeypatch.setattr(time, "monotonic", lambda: real() + 6.0)
    ok, detail = index.readiness()
    assert not ok
    assert "stale" in detail

    index.sync()  # a successful poll (at the shifted clock) makes it fresh again
    assert index.readiness()[0]


def test_a_failed_poll_leaves_the_index_stale_with_the_reason(
    db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = MatchIndex(db, settings.model_copy(update={"index_stale_seconds": 0.2}))
    index.load()

    def broken(self: MatchIndex) -> int:
        raise OSError("database went away")

    monkeypatch.setattr(MatchIndex, "sync", broken)
    index.start()
    try:
        deadline = time.monotonic() + 5
        while index.readiness()[0] and time.monotonic() < deadline:
            time.sleep(0.05)
        ok, detail = index.readiness()
    finally:
        index.stop(save=False)
    assert not ok
    assert "stale" in detail
    assert "database went away" in detail


def test_readyz_reports_the_index_check_while_not_ready(
    client: TestClient, db: Database, admin_key: str
) -> None:
    index: MatchIndex = client.app.state.match_index  # type: ignore[attr-defined]
    deadline = time.monotonic() + 10
    while not index.readiness()[0]:
        assert time.monotonic() < deadline, "the index never became ready"
        time.sleep(0.05)
    assert client.get("/readyz").status_code == 200
    index.stop(save=False)  # hold the index still

    index.state = IndexState.LOADING
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["checks"]["index"]["ok"] is False
    assert "loading" in body["checks"]["index"]["detail"]
    assert body["checks"]["database"]["ok"] is True
    assert "index" in body["detail"]
    lookup = client.post(
        "/v1/lookup",
        json={"signals": [{"signal_type": "pdq", "value": A}]},
        headers=auth(admin_key),
    )
    assert lookup.status_code == 503
    assert lookup.json()["type"] == "/problems/service-unavailable"

    index.state = IndexState.READY
    index.last_sync = time.monotonic() - 10_000
    stale = client.get("/readyz")
    assert stale.status_code == 503
    assert "stale" in stale.json()["checks"]["index"]["detail"]

    index.sync()
    assert client.get("/readyz").status_code == 200


# ---- vPDQ ------------------------------------------------------------------------------------


def sample_vpdq(name: str) -> str:
    return VpdqHash.from_lines((VPDQ_HASHES / f"{name}.txt").read_text()).to_signal_str()


def oracle_pcts(
    query: str, target: str, distance: int = 31, floor: int = 50
) -> tuple[float, float]:
    """pytx's brute-force vPDQ comparison, written out independently of shieldwall's."""

    def prepared(value: str) -> list[PdqHash]:
        seen: dict[str, PdqHash] = {}
        for frame in VpdqHash.parse(value).frames:
            if frame.pdq_hex not in seen:
                seen[frame.pdq_hex] = PdqHash(frame.pdq_hex, frame.quality)
        return [h for h in seen.values() if h.quality is not None and h.quality >= floor]

    q, t = prepared(query), prepared(target)
    q_hit = sum(any(a.distance(b) <= distance for b in t) for a in q)
    t_hit = sum(any(b.distance(a) <= distance for a in q) for b in t)
    return q_hit * 100 / len(q), t_hit * 100 / len(t)


def vpdq_lookup(db: Database, index: MatchIndex, value: str) -> list[dict[str, object]]:
    with db.session() as session:
        result = Matcher(session, index, quality_floor=50).lookup(
            [QuerySignal(SignalType.VPDQ, value)]
        )
    return [m.model_dump() for m in result.matches]


@needs_vpdq_samples
def test_vpdq_entries_match_with_percentages_and_leave_on_removal(
    db: Database, index: MatchIndex, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = sample_vpdq("chair-20-sd-bar")
    resized = sample_vpdq("chair-20-sd-bar-128x128")
    other = sample_vpdq("doorknob-hd-no-bar")
    unique_frames = len({f.pdq_hex for f in VpdqHash.parse(original).frames})
    make_bank(db, "VIDEOS")
    [video] = add(db, "VIDEOS", "vpdq", original)
    [pdq_entry] = add(db, "VIDEOS", "pdq", A)
    index.load()
    assert len(index.frames) == unique_frames
    assert len(index.pdq) == 1

    [same] = vpdq_lookup(db, index, original)
    assert same["entry_id"] == video
    assert same["signal_type"] == "vpdq"
    assert same["query_match_pct"] == 100.0
    assert same["target_match_pct"] == 100.0

    expected_q, expected_t = oracle_pcts(resized, original)
    assert expected_q >= 80.0  # the resized copy is a match by pytx's rule
    [near] = vpdq_lookup(db, index, resized)
    assert near["entry_id"] == video
    assert near["query_match_pct"] == pytest.approx(round(expected_q, 2))
    assert near["target_match_pct"] == pytest.approx(round(expected_t, 2))

    assert oracle_pcts(other, original)[0] < 80.0
    assert vpdq_lookup(db, index, other) == []

    # saved and loaded back, the frames are the same
    index.save()
    monkeypatch.setattr(MatchIndex, "_rebuild", no_rebuild)
    restarted = MatchIndex(db, settings)
    restarted.load()
    assert len(restarted.frames) == unique_frames
    assert [m["entry_id"] for m in vpdq_lookup(db, restarted, original)] == [video]

    remove(db, "VIDEOS", video)
    assert restarted.sync() == 1
    assert len(restarted.frames) == 0, "the removed video's frames are still indexed"
    assert vpdq_lookup(db, restarted, original) == []
    assert pdq_ids(restarted, A) == [pdq_entry]


@needs_vpdq_samples
def test_two_videos_share_the_frame_index_and_leave_it_separately(
    db: Database, index: MatchIndex
) -> None:
    first = sample_vpdq("chair-20-sd-bar")
    second = sample_vpdq("pattern-hd-no-bar")
    make_bank(db, "VIDEOS")
    one, two = add(db, "VIDEOS", "vpdq", first, second)
    index.load()
    frames_of_two = len({f.pdq_hex for f in VpdqHash.parse(second).frames})
    remove(db, "VIDEOS", one)
    index.sync()
    assert len(index.frames) == frames_of_two
    assert vpdq_lookup(db, index, first) == []
    assert [m["entry_id"] for m in vpdq_lookup(db, index, second)] == [two]
