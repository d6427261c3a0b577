"""The per-process matching index: PDQ hashes and vPDQ frames of every active bank entry.

Each server process keeps its own copy in memory and follows the database:

* at start it loads the last saved index file (versioned and checksummed, see
  :mod:`shieldwall.core.index`) or rebuilds from the database, then catches up;
* a background thread polls ``bank_entries.change_seq > watermark`` every
  ``index_poll_seconds`` (every :data:`FOLLOW_SECONDS` while banks are changing) and
  applies additions, revivals and removals, so a change made through any process is
  visible in every process within a few seconds;
* bank settings (thresholds, kind, enabled) are re-read when a bank's ``change_seq`` moves.

Readiness (``/readyz``) reports ``loading`` until the first load is done and ``stale`` when
the last successful poll is older than ``index_stale_seconds``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import cast

import numpy as np
from sqlalchemy import Table, func, select, tuple_
from sqlalchemy.orm import Session

from shieldwall.banks.changes import current_seq
from shieldwall.banks.models import Bank, BankEntry
from shieldwall.config import Settings
from shieldwall.core.errors import InvalidInput, ServiceUnavailable
from shieldwall.core.index import PdqIndex
from shieldwall.core.signals import SignalType, parse_vpdq
from shieldwall.db import bulk
from shieldwall.db.engine import Database

log = logging.getLogger(__name__)

PERCEPTUAL = (SignalType.PDQ.value, SignalType.VPDQ.value)
#: "Is a PDQ or vPDQ entry", as an expression rather than the bare column, so no planner
#: serves it from an index that starts with signal_type (uq_bank_entries_value): that walks
#: (and then sorts) every PDQ entry of every bank for each page read, where the id or
#: change order needs only the page's rows.
#: Core columns, not ORM attributes: a server reads every entry at start and every change
#: after, and the ORM's row loading added about a tenth to a start-up load (1M entries,
#: 4.8 s against 4.4 s).
_entries = cast(Table, BankEntry.__table__)
_IS_PERCEPTUAL = _entries.c.signal_type.concat("").in_(PERCEPTUAL)
#: vPDQ frames share one index; a frame's id is ``entry_id << FRAME_BITS | frame ordinal``.
FRAME_BITS = 20
_BATCH = 50_000
#: While banks are changing (rows applied within the last ACTIVE_SECONDS: an exchange
#: fetch or an import under way), the index polls this often instead of every
#: ``index_poll_seconds``: what each batch commits is matched within a fraction of a
#: second, not up to a whole poll later.
FOLLOW_SECONDS = 0.25
ACTIVE_SECONDS = 30.0


class IndexState(StrEnum):
    STARTING = "starting"
    LOADING = "loading"
    READY = "ready"
    FAILED = "failed"


@dataclass(frozen=True)
class BankInfo:
    id: int
    name: str
    kind: str
    action: str
    enabled: bool
    deleted: bool
    labels: tuple[str, ...]
    pdq_threshold: int
    vpdq_distance: int
    vpdq_query_pct: float
    vpdq_target_pct: float
    dihedral: bool
    letterbox: bool

    @property
    def active(self) -> bool:
        return self.enabled and not self.deleted

    @classmethod
    def of(cls, bank: Bank) -> BankInfo:
        return cls(
            id=bank.id,
            name=bank.name,
            kind=bank.kind,
            action=bank.action,
            enabled=bank.enabled,
            deleted=bank.deleted_at is not None,
            labels=tuple(bank.labels or ()),
            pdq_threshold=bank.pdq_threshold,
            vpdq_distance=bank.vpdq_distance,
            vpdq_query_pct=bank.vpdq_query_pct,
            vpdq_target_pct=bank.vpdq_target_pct,
            dihedral=bank.dihedral,
            letterbox=bank.letterbox,
        )


def _pdq_bytes(values: Sequence[str]) -> np.ndarray:
    return np.frombuffer(bytes.fromhex("".join(values)), dtype=np.uint8).reshape(-1, 32)


class MatchIndex:
    """The in-memory PDQ and vPDQ-frame indexes of one process, kept in step with the database."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings
        self.pdq = PdqIndex()
        self.frames = PdqIndex()
        self.banks: dict[int, BankInfo] = {}
        self.watermark = 0
        self.bank_watermark = -1
        self.state = IndexState.STARTING
        self.error: str | None = None
        self.last_sync = 0.0
        #: when a sync last applied rows (monotonic clock; see FOLLOW_SECONDS)
        self.last_change = float("-inf")
        self._saved_watermark = -1
        self._last_save = 0.0
        # Guards swapping the two indexes and the bank table together; queries need no lock
        # (PdqIndex answers from immutable snapshots).
        self._lock = threading.RLock()
        self._compactor: threading.Thread | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ---- life cycle -----------------------------------------------------------------------

    @property
    def directory(self) -> Path:
        return self.settings.data_dir / "index"

    def start(self) -> None:
        """Load (in the background) and keep following the database until :meth:`stop`."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="shieldwall-index", daemon=True)
        self._thread.start()

    def stop(self, *, save: bool = True) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        if save and self.state is IndexState.READY:
            self._save_quietly()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if self.state is not IndexState.READY:
                    self.load()
                else:
                    self.sync()
                    self._maybe_save()
            except Exception as exc:  # keep following; readiness reports the trouble
                self.error = f"{type(exc).__name__}: {exc}"
                if self.state is not IndexState.READY:
                    self.state = IndexState.FAILED
                log.exception("index.sync_failed")
            self._stop.wait(self.poll_delay())

    def load(self) -> None:
        """Load the saved index file, or rebuild from the database; then catch up."""
        self.state = IndexState.LOADING
        started = time.perf_counter()
        if not self._load_files():
            self._rebuild()
        self.sync()
        self.state = IndexState.READY
        self.error = None
        log.info(
            "index.loaded",
            extra={
                "pdq": len(self.pdq),
                "frames": len(self.frames),
                "watermark": self.watermark,
                "seconds": round(time.perf_counter() - started, 2),
            },
        )

    def _load_files(self) -> bool:
        pdq_path = self.directory / "pdq.swidx"
        frames_path = self.directory / "vpdq-frames.swidx"
        if not (pdq_path.exists() and frames_path.exists()):
            return False
        try:
            pdq = PdqIndex.load(pdq_path)
            frames = PdqIndex.load(frames_path)
        except InvalidInput as exc:
            log.warning("index.file_rejected", extra={"reason": exc.message})
            return False
        if pdq.watermark != frames.watermark:
            log.warning("index.file_rejected", extra={"reason": "watermarks differ"})
            return False
        with self.db.reading() as session:
            head = current_seq(session)
        if pdq.watermark > head:
            # The file saw changes this database never had (it was restored from a backup,
            # or it is another database): its ids cannot be trusted.
            log.warning("index.file_rejected", extra={"reason": "ahead of the database"})
            return False
        with self._lock:
            self.pdq, self.frames = pdq, frames
            self.watermark = self._saved_watermark = pdq.watermark
            self.bank_watermark = -1
        return True

    def _rebuild(self) -> None:
        """Read every active perceptual entry and build both indexes in one go."""
        pdq_ids: list[np.ndarray] = []
        pdq_hashes: list[np.ndarray] = []
        frame_ids: list[int] = []
        frame_values: list[str] = []
        with self.db.reading() as session:
            watermark = current_seq(session)
            for rows in self._active_perceptual(session):
                plain = [(r[0], r[2]) for r in rows if r[1] == SignalType.PDQ]
                if plain:
                    pdq_ids.append(np.fromiter((r[0] for r in plain), np.int64, len(plain)))
                    pdq_hashes.append(_pdq_bytes([r[1] for r in plain]))
                for entry_id, signal_type, value in rows:
                    if signal_type == SignalType.VPDQ:
                        for ordinal, frame in enumerate(_unique_frames(value)):
                            frame_ids.append(entry_id << FRAME_BITS | ordinal)
                            frame_values.append(frame)
        pdq = PdqIndex.build(
            np.concatenate(pdq_ids) if pdq_ids else np.empty(0, np.int64),
            np.concatenate(pdq_hashes) if pdq_hashes else np.empty((0, 32), np.uint8),
        )
        frames = PdqIndex.build(
            np.asarray(frame_ids, dtype=np.int64),
            _pdq_bytes(frame_values) if frame_values else np.empty((0, 32), np.uint8),
        )
        with self._lock:
            self.pdq, self.frames = pdq, frames
            self.watermark = watermark
            self.bank_watermark = -1

    def _active_perceptual(self, session: Session) -> Iterator[list[tuple[int, str, str]]]:
        # One table, read along its primary key after the last id (banks are few: the
        # deleted ones are left out here, not joined, so no plan can loop over banks and
        # sort each page)
        deleted = set(session.scalars(select(Bank.id).where(Bank.deleted_at.is_not(None))))
        last = 0
        while True:
            rows = bulk.read_rows(
                session,
                select(_entries.c.id, _entries.c.signal_type, _entries.c.value, _entries.c.bank_id)
                .where(_entries.c.id > last, _entries.c.removed_at.is_(None), _IS_PERCEPTUAL)
                .order_by(_entries.c.id)
                .limit(_BATCH),
            )
            if not rows:
                return
            yield [(r[0], r[1], r[2]) for r in rows if r[3] not in deleted]
            last = rows[-1][0]

    @staticmethod
    def _add_rows(pdq: PdqIndex, frames: PdqIndex, rows: Iterable[tuple[int, str, str]]) -> None:
        pdq_ids: list[int] = []
        pdq_values: list[str] = []
        frame_ids: list[int] = []
        frame_values: list[str] = []
        for entry_id, signal_type, value in rows:
            if signal_type == SignalType.PDQ:
                pdq_ids.append(entry_id)
                pdq_values.append(value)
            else:
                for ordinal, frame in enumerate(_unique_frames(value)):
                    frame_ids.append(entry_id << FRAME_BITS | ordinal)
                    frame_values.append(frame)
        if pdq_ids:
            pdq.add(np.asarray(pdq_ids, dtype=np.int64), _pdq_bytes(pdq_values))
        if frame_ids:
            frames.add(np.asarray(frame_ids, dtype=np.int64), _pdq_bytes(frame_values))

    # ---- following the database -----------------------------------------------------------

    def sync(self) -> int:
        """Apply every bank change committed since the watermark; returns how many rows."""
        applied = 0
        with self.db.reading() as session:
            # Read the head first: a committed sequence number implies every smaller one is
            # committed (writers hold the head row's lock until they commit), so after
            # reading all rows up to at least ``head`` nothing below it can still appear.
            head = current_seq(session)
            newest = self.watermark
            # after (watermark + 1, 0) is from the first change past the watermark (ids
            # start at 1); then after the last row read: a range of ix_bank_entries_change,
            # read in its order, so each page costs its own rows, not the bank's
            last_seq, last_id = self.watermark + 1, 0
            while True:
                rows = bulk.read_rows(
                    session,
                    select(
                        _entries.c.id,
                        _entries.c.signal_type,
                        _entries.c.value,
                        _entries.c.removed_at,
                        _entries.c.change_seq,
                    )
                    .where(
                        _entries.c.change_seq >= last_seq,
                        tuple_(_entries.c.change_seq, _entries.c.id) > tuple_(last_seq, last_id),
                        _IS_PERCEPTUAL,
                    )
                    .order_by(_entries.c.change_seq, _entries.c.id)
                    .limit(_BATCH),
                )
                if not rows:
                    break
                self._apply(rows)
                applied += len(rows)
                last_seq, last_id = rows[-1][4], rows[-1][0]
                newest = max(newest, last_seq)
            # Banks last: every entry read above was committed with (or after) its bank, so
            # reading the banks now knows each of them. Read first, a bank committed between
            # that read and the entries' (PostgreSQL's READ COMMITTED gives each statement a
            # new snapshot) would leave its entries indexed, the watermark past them, and
            # their matches dropped as "no such bank" until the next poll.
            self._sync_banks(session)
        with self._lock:
            self.watermark = max(self.watermark, newest, head)
        self.last_sync = time.monotonic()
        if applied:
            self.last_change = self.last_sync
            log.info("index.synced", extra={"rows": applied, "watermark": self.watermark})
        return applied

    def poll_delay(self) -> float:
        """Seconds until the next poll: :data:`FOLLOW_SECONDS` while banks are changing,
        ``index_poll_seconds`` otherwise (whichever is shorter)."""
        poll = self.settings.index_poll_seconds
        if time.monotonic() - self.last_change < ACTIVE_SECONDS:
            return min(poll, FOLLOW_SECONDS)
        return poll

    def _apply(self, rows: Sequence[tuple[int, str, str, object, int]]) -> None:
        """Replace every changed entry: drop what it was, add it back unless removed.

        Deleting a bank soft-removes its entries with a new change_seq, so a live row's bank
        is live; disabled banks stay indexed and are filtered at query time.
        """
        pdq_ids = [r[0] for r in rows if r[1] == SignalType.PDQ]
        frame_ids = [
            r[0] << FRAME_BITS | ordinal
            for r in rows
            if r[1] == SignalType.VPDQ
            for ordinal in range(len(_unique_frames(r[2])))
        ]
        live = [(r[0], r[1], r[2]) for r in rows if r[3] is None]
        with self._lock:
            if pdq_ids:
                self.pdq.remove(np.asarray(pdq_ids, dtype=np.int64))
            if frame_ids:
                self.frames.remove(np.asarray(frame_ids, dtype=np.int64))
            self._add_rows(self.pdq, self.frames, live)
        self._compact_in_background()

    def _compact_in_background(self) -> None:
        """Fold pending changes in without blocking queries (the index keeps answering from
        its current snapshot while the new one is built)."""
        due = [i for i in (self.pdq, self.frames) if i.needs_compaction()]
        if not due or (self._compactor is not None and self._compactor.is_alive()):
            return

        def run() -> None:
            for index in due:
                index.compact()

        self._compactor = threading.Thread(target=run, name="shieldwall-compact", daemon=True)
        self._compactor.start()

    def _sync_banks(self, session: Session) -> None:
        """Re-read every bank's settings when any bank changed (banks are few)."""
        newest = session.scalar(select(func.max(Bank.change_seq))) or 0
        count = session.scalar(select(func.count()).select_from(Bank)) or 0
        if newest == self.bank_watermark and count == len(self.banks):
            return
        banks = {b.id: BankInfo.of(b) for b in session.scalars(select(Bank)).all()}
        with self._lock:
            self.banks = banks
            self.bank_watermark = newest

    # ---- saving ---------------------------------------------------------------------------

    def _maybe_save(self) -> None:
        due = time.monotonic() - self._last_save >= self.settings.index_save_seconds
        if due and self.watermark != self._saved_watermark:
            self._save_quietly()

    def _save_quietly(self) -> None:
        try:
            self.save()
        except OSError as exc:
            log.warning("index.save_failed", extra={"reason": type(exc).__name__})

    def save(self) -> None:
        """Write both indexes atomically with the watermark they reflect."""
        self.directory.mkdir(parents=True, exist_ok=True)
        with self._lock:
            watermark = self.watermark
            self.pdq.save(self.directory / "pdq.swidx", watermark=watermark)
            self.frames.save(self.directory / "vpdq-frames.swidx", watermark=watermark)
        self._saved_watermark = watermark
        self._last_save = time.monotonic()

    # ---- queries --------------------------------------------------------------------------

    def require_ready(self) -> None:
        if self.state is not IndexState.READY:
            detail = f"the matching index is {self.state.value}"
            if self.error:
                detail += f" ({self.error})"
            raise ServiceUnavailable(detail + "; retry shortly", index_state=self.state.value)

    def readiness(self) -> tuple[bool, str]:
        if self.state is not IndexState.READY:
            extra = f": {self.error}" if self.error else ""
            return False, f"index {self.state.value}{extra}"
        age = time.monotonic() - self.last_sync
        if age > self.settings.index_stale_seconds:
            return False, f"index stale: last update {age:.0f}s ago ({self.error or 'no error'})"
        return True, f"ready: {len(self.pdq)} pdq, {len(self.frames)} vpdq frames"

    def query_pdq(self, hash32: bytes, max_distance: int) -> list[tuple[int, int]]:
        return self.pdq.query(hash32, max_distance)

    def query_frames(self, hashes: Sequence[bytes], max_distance: int) -> dict[int, set[int]]:
        """Entry id -> the positions (in ``hashes``) of query frames that matched it."""
        out: dict[int, set[int]] = {}
        frames = self.frames
        for position, frame in enumerate(hashes):
            for frame_id, _distance in frames.query(frame, max_distance):
                out.setdefault(frame_id >> FRAME_BITS, set()).add(position)
        return out

    def bank_snapshot(self) -> Mapping[int, BankInfo]:
        """The current bank table; it is replaced whole, never changed in place, so a
        caller may keep it for the length of a request without copying."""
        return self.banks


def _unique_frames(value: str) -> list[str]:
    """The distinct frame hashes of a stored vPDQ value, in first-seen order."""
    seen: dict[str, None] = {}
    for frame in parse_vpdq(value):
        seen.setdefault(frame.pdq_hex, None)
    return list(seen)
