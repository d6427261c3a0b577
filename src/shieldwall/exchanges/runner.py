"""Fetching an exchange: one run at a time per exchange across every process, resumable,
time-limited, committed in batches; and the schedule that starts runs in the server.

A run:

1. takes the exchange's **lease** (one conditional UPDATE of its row: free or expired →
   ours for ``exchange_lease_seconds``), marks runs left ``running`` by a process that died
   as failed, and records a new run — committed before anything is fetched;
2. asks the adapter for pages from the stored **checkpoint** on a second thread, which
   also checks each page's records (:func:`~shieldwall.exchanges.ingest.check_records`)
   while this one writes the previous ones to the database;
3. applies each batch in **one transaction** (up to ``exchange_batch_records`` records,
   five seconds, or until the source keeps the next page waiting) that first renews the
   lease *only if we still hold it* (a fetcher that lost its lease, e.g. after a long
   pause, cannot write), applies additions, updates and deletions
   (:mod:`~shieldwall.exchanges.ingest`) ``CHUNK_RECORDS`` at a time, quarantines bad
   records, stores the checkpoint of the last page in the batch, updates the run's counts
   and writes one ``exchange.fetched`` event — so a crash loses at most the batch under way,
   and the next run resumes from the last committed page;
4. stops when the source is caught up (``succeeded``), the time limit is reached
   (``partial``), or the source fails (``failed``, with the reason in plain words); releases
   the lease; schedules the next run; writes ``exchange.fetch_finished``.
"""

from __future__ import annotations

import gc
import logging
import os
import queue
import socket
import threading
import time
import uuid
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar, cast

import httpx
from sqlalchemy import Connection
from sqlalchemy.orm import Session

from shieldwall.audit import service as audit
from shieldwall.banks.changes import change_seq
from shieldwall.config import Settings
from shieldwall.core.errors import Conflict, NotFound, ShieldwallError
from shieldwall.db.base import utcnow
from shieldwall.db.engine import Database
from shieldwall.exchanges import ingest, repository, service
from shieldwall.exchanges.models import Exchange, ExchangeRun
from shieldwall.exchanges.schemas import RunOut, RunStatus, RunTrigger
from shieldwall.exchanges.sources import build_adapter, source_client
from shieldwall.integrations.exchanges.base import (
    Deadline,
    Page,
    Rejected,
    SourceError,
    SourceRecord,
    TimeLimitReached,
)

log = logging.getLogger(__name__)
T = TypeVar("T")
PRINCIPLES = (10, 1)
#: Commit buffered records at least this often, however few.
COMMIT_SECONDS = 5.0
#: Records applied at a time inside a batch's transaction (memory stays bounded by this,
#: not by the batch).
CHUNK_RECORDS = 10_000
#: How long to wait for the next page with a batch open before committing it: a slow
#: source never holds the database's write lock.
IDLE_SECONDS = 0.25


class FetchBusy(Conflict):
    """Another process is fetching this exchange now."""


class LeaseLost(SourceError):
    pass


class _Stopped(SourceError):
    pass


@dataclass
class RunOptions:
    trigger: RunTrigger = RunTrigger.MANUAL
    #: Overrides the exchange's own time limit (seconds).
    time_limit: float | None = None
    #: Stop after this many pages (tests and `--max-pages`); the run is partial.
    max_pages: int | None = None
    batch_records: int | None = None
    lease_seconds: float | None = None
    clock: Callable[[], float] = time.monotonic
    wall_clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep
    transport: httpx.BaseTransport | None = None
    #: Set by the server when it stops: the run ends after the page under way.
    stop: threading.Event | None = None
    #: Called after every committed batch with the run's totals so far.
    progress: Callable[[ingest.Applied], None] | None = None
    #: Pages fetched (and checked) ahead while the database applies the previous ones
    #: (0: one page at a time, in the applying thread).
    prefetch: int = 16


_DONE = object()


def prefetched(
    pages: Iterator[T],
    depth: int,
    timeout: float,
    on_idle: Callable[[], None] | None = None,
    *,
    weight: Callable[[T], int] = lambda _: 1,
    budget: int | None = None,
) -> Generator[T, None, None]:
    """``pages``, fetched up to ``depth`` pages ahead on another thread, so the source's
    answers arrive while the database applies the previous batch. Memory stays bounded:
    at most ``depth`` pages wait, and (with ``budget``) at most ``budget`` of ``weight``
    (records) beyond one page; errors reach the consumer in order; stopping early stops
    the fetching (after the request under way, at most ``timeout`` seconds). ``on_idle``
    is called (in the consumer's thread) when the next page is not there within
    ``IDLE_SECONDS``, before waiting on (``depth`` 0 fetches in the consumer's thread and
    never calls it)."""
    if depth <= 0:
        yield from pages
        return
    handoff: queue.Queue[tuple[object, int]] = queue.Queue(maxsize=depth)
    stop = threading.Event()
    room = threading.Condition()
    held = [0]  # weight waiting in the queue

    def put(item: object, size: int = 0) -> bool:
        with room:
            while budget is not None and held[0] and held[0] + size > budget:
                if stop.is_set():
                    return False
                room.wait(0.1)
            held[0] += size
        while not stop.is_set():
            try:
                handoff.put((item, size), timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for page in pages:
                if not put(page, weight(page)):
                    return
            put(_DONE)
        except BaseException as exc:  # handed to the consumer, raised there
            put(exc)

    thread = threading.Thread(target=produce, name="shieldwall-fetch-ahead", daemon=True)
    thread.start()
    try:
        while True:
            try:
                item, size = handoff.get(timeout=IDLE_SECONDS)
            except queue.Empty:
                if on_idle is not None:
                    on_idle()
                item, size = handoff.get()
            with room:
                held[0] -= size
                room.notify_all()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield cast(T, item)
    finally:
        stop.set()
        with room:
            room.notify_all()
        thread.join(timeout=max(0.1, timeout))


def _pause_gc() -> bool:
    """Pause the cyclic garbage collector while a batch transaction is open; True when it
    was running (:func:`_resume_gc` then restarts it). A batch allocates hundreds of
    thousands of short-lived objects, freed by reference counting anyway; collections
    triggered by them cost more than the work, and one at the end of every chunk walked the
    records the fetching thread had queued meanwhile (about 2 s of a million-record fetch
    in py-spy, at one chunk of 10,000 records each). A batch is committed after
    :data:`COMMIT_SECONDS` (plus the chunk under way), so cycles made elsewhere in the
    process meanwhile wait about that long at most."""
    was_enabled = gc.isenabled()
    gc.disable()
    return was_enabled


def _resume_gc(was_enabled: bool) -> None:
    if was_enabled:
        gc.enable()


def new_owner() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


@dataclass
class _Prepared:
    """A page and its records checked (on the fetching thread)."""

    page: Page
    checked: ingest.Checked


def _prepare(pages: Iterator[Page], rules: ingest.Rules) -> Iterator[_Prepared]:
    for page in pages:
        yield _Prepared(page, ingest.check_records(rules, page.records))


@dataclass
class _Open:
    """The batch transaction being filled: what it applied, the checkpoint to store with it."""

    session: Session
    started: float
    records: int = 0
    pages: int = 0
    applied: ingest.Applied = field(default_factory=ingest.Applied)
    #: the garbage collector ran before this batch opened (see _pause_gc)
    gc_was_enabled: bool = False
    checkpoint: dict[str, object] | None = None
    sweep_before: datetime | None = None


@dataclass
class _Buffer:
    records: list[SourceRecord] = field(default_factory=list)
    checked: ingest.Checked | None = None
    rejected: list[Rejected] = field(default_factory=list)
    skipped: int = 0
    pages: int = 0
    checkpoint: dict[str, object] | None = None
    sweep_before: datetime | None = None

    def release(self) -> None:
        """Drop the records (once applied); the counts stay."""
        self.records, self.checked, self.rejected = [], None, []

    def add(self, prepared: _Prepared) -> None:
        page = prepared.page
        if self.checked is None:
            self.checked = prepared.checked
        else:
            self.checked.extend(prepared.checked)
        self.records.extend(page.records)
        self.rejected.extend(page.rejected)
        self.skipped += page.skipped
        self.pages += 1
        if page.checkpoint is not None:
            self.checkpoint = page.checkpoint
        if page.sweep_before is not None:
            self.sweep_before = page.sweep_before

    @property
    def size(self) -> int:
        return len(self.records) + len(self.rejected)


class FetchRun:
    def __init__(
        self, db: Database, settings: Settings, exchange_name: str, options: RunOptions
    ) -> None:
        self.db = db
        self.settings = settings
        self.name = exchange_name
        self.options = options
        self.owner = new_owner()
        self.lease_seconds = options.lease_seconds or settings.exchange_lease_seconds
        self.batch_records = options.batch_records or settings.exchange_batch_records
        #: Records held in memory before they are applied (in the open transaction).
        # (fetching one page at a time, a batch is applied whole when it is committed: no
        # transaction stays open while the next page is requested)
        self.chunk_records = (
            min(self.batch_records, CHUNK_RECORDS) if options.prefetch > 0 else self.batch_records
        )
        self._open: _Open | None = None
        #: SQLite: the connection every batch of the run uses (repository.bulk_connection)
        self._connection: Connection | None = None
        self._buffer = _Buffer()
        self.totals = ingest.Applied()
        self._first_load = False
        #: a first load met values the bank holds: look them up before inserting from now on
        self._look_first = False
        self.pages = 0
        self.exchange_id = 0
        self.run_id = 0
        self.last_commit = options.clock()

    # ---- life cycle -------------------------------------------------------------------

    def start(self, session: Session | None = None) -> None:
        """Take the lease and record the run (committed here, or by the caller whose
        ``session`` is given). Raises :class:`FetchBusy`."""
        if session is not None:
            self._start(session)
            return
        with self.db.session() as own:
            self._start(own)

    def _start(self, session: Session) -> None:
        exchange = service.get_exchange(session, self.name)
        self.exchange_id = exchange.id
        now = utcnow()
        if not repository.take_lease(
            session, exchange.id, self.owner, now=now, until=self._until()
        ):
            session.refresh(exchange)
            until = exchange.lease_until
            raise FetchBusy(
                f"exchange {exchange.name} is being fetched by another process now (its "
                f"lease runs until {until:%Y-%m-%d %H:%M:%S} UTC); try again later"
                if until is not None
                else f"exchange {exchange.name} is being fetched by another process now",
                exchange=exchange.name,
            )
        for stale in repository.abandoned_runs(session, exchange.id, self.owner):
            stale.status = RunStatus.FAILED.value
            stale.finished_at = now
            stale.error = (
                "the process running this fetch stopped before finishing (it crashed or "
                "was killed); the next run resumed from the last committed batch"
            )
        run = ExchangeRun(
            exchange_id=exchange.id,
            trigger=self.options.trigger.value,
            status=RunStatus.RUNNING.value,
            owner=self.owner,
            started_at=now,
        )
        session.add(run)
        session.flush()
        self.run_id = run.id
        exchange.last_run_id = run.id
        session.flush()

    def run(self) -> RunOut:
        """Fetch until caught up, out of time, or failed; returns the finished run."""
        self.start()
        return self.run_started()

    def run_started(self) -> RunOut:
        """The rest of :meth:`run`, after :meth:`start` took the lease."""
        status, error = RunStatus.SUCCEEDED, None
        try:
            self._fetch()
        except TimeLimitReached as exc:
            status, error = RunStatus.PARTIAL, str(exc)
        except _Stopped as exc:
            status, error = RunStatus.PARTIAL, str(exc)
        except SourceError as exc:
            status, error = RunStatus.FAILED, str(exc)
        except ShieldwallError as exc:  # e.g. the bank was deleted, credentials unreadable
            status, error = RunStatus.FAILED, exc.message
        except Exception as exc:
            log.exception("exchange.fetch_crashed", extra={"exchange_id": self.exchange_id})
            status = RunStatus.FAILED
            error = f"an internal error stopped the fetch ({type(exc).__name__}); see the logs"
        return self._finish(status, error)

    def _until(self) -> datetime:
        return utcnow() + timedelta(seconds=self.lease_seconds)

    # ---- fetching ---------------------------------------------------------------------

    def _fetch(self) -> None:
        with self.db.session() as session:
            exchange = service.get_exchange(session, self.name)
            rules = ingest.Rules.of(service.bank_of(session, exchange), exchange)
            credentials = service.credentials_of(self.settings, exchange)
            checkpoint = dict(exchange.checkpoint or {})
            limit = self.options.time_limit or exchange.time_limit_seconds
            # decided once: our lease keeps every other fetcher of this exchange out (the
            # ingest uses it only for the exchange types it applies to)
            self._first_load = not repository.has_items(session, exchange.id)
        deadline = Deadline(limit, clock=self.options.clock)
        http = source_client(
            self.settings,
            deadline,
            transport=self.options.transport,
            sleep=self.options.sleep,
            on_wait=self._keep_lease,
        )
        with http, self._batch_connection():
            adapter = build_adapter(exchange, credentials, http, clock=self.options.wall_clock)
            pages: Generator[_Prepared, None, None] = prefetched(
                _prepare(adapter.pages(checkpoint), rules),
                self.options.prefetch,
                deadline.remaining(),
                on_idle=self._flush,
                weight=lambda p: len(p.page.records) + len(p.page.rejected),
                budget=self.chunk_records,
            )
            try:
                for prepared in pages:
                    page = prepared.page
                    self._buffer.add(prepared)
                    self.pages += 1
                    size = self._buffer.size
                    due = (
                        page.sweep_before is not None
                        or self.options.clock() - self.last_commit >= COMMIT_SECONDS
                        or self._open_records() + size >= self.batch_records
                    )
                    if due:
                        self._flush()
                    elif size >= self.chunk_records:
                        self._apply()
                    if self.options.max_pages is not None and self.pages >= self.options.max_pages:
                        raise _Stopped(f"stopped after {self.pages} page(s), as asked")
                    if self.options.stop is not None and self.options.stop.is_set():
                        raise _Stopped("the server is stopping; the next run resumes")
                    deadline.check()
            except LeaseLost:
                self._rollback_open()
                raise
            except SourceError:
                self._flush()  # the complete pages before the trouble
                raise
            except BaseException:
                self._rollback_open()
                raise
            finally:
                pages.close()  # stops fetching ahead before the HTTP client closes
            self._flush()

    @contextmanager
    def _batch_connection(self) -> Iterator[None]:
        """SQLite: pin the connection every batch of the run uses
        (:func:`repository.bulk_connection`); restored and back in the pool after."""
        with repository.bulk_connection(self.db.engine) as connection:
            self._connection = connection
            try:
                yield
            finally:
                self._connection = None

    def _keep_lease(self) -> None:
        with self.db.session() as session:
            if not repository.renew_lease(
                session, self.exchange_id, self.owner, until=self._until()
            ):
                raise LeaseLost(
                    "another process took over this exchange's fetch (our lease ran out); "
                    "this run stopped without writing more"
                )

    def _open_records(self) -> int:
        return self._open.records if self._open is not None else 0

    def _flush(self) -> None:
        """Apply what is buffered and commit the batch (also called while the source keeps
        the next page waiting: what arrived is committed, and no transaction stays open)."""
        self._apply()
        self._commit_open()

    def _apply(self) -> None:
        """Apply the buffered pages in the open batch transaction (opened here when none
        is: the lease renewed *only if we still hold it*, the bank's change number taken)."""
        buffer, self._buffer = self._buffer, _Buffer()
        if not buffer.pages:
            return
        batch = self._open
        if batch is None:
            if self._connection is None:
                session = self.db.sessionmaker()
            else:  # SQLite: every batch on the one connection tuned for them
                session = self.db.sessionmaker(bind=self._connection)
            try:
                if not repository.renew_lease(
                    session, self.exchange_id, self.owner, until=self._until()
                ):
                    raise LeaseLost(
                        "another process took over this exchange's fetch (our lease ran out), "
                        "or the exchange was deleted; this batch was not written"
                    )
            except BaseException:
                session.rollback()
                session.close()
                raise
            batch = self._open = _Open(session, self.options.clock(), gc_was_enabled=_pause_gc())
        session = batch.session
        size = buffer.size
        try:
            if buffer.records or buffer.rejected or buffer.skipped:
                exchange = session.get(Exchange, self.exchange_id)
                assert exchange is not None
                bank = service.bank_of(session, exchange)
                applied = ingest.apply_records(
                    session,
                    exchange,
                    bank,
                    buffer.records,
                    seq=change_seq(session),
                    now=utcnow(),
                    run_id=self.run_id,
                    rejected=buffer.rejected,
                    skipped=buffer.skipped,
                    prechecked=buffer.checked,
                    first_load=self._first_load,
                    look_first=self._look_first,
                )
                self._look_first = self._look_first or applied.held > 0
                buffer.release()
                batch.applied.add(applied)
            batch.records += size
            batch.pages += buffer.pages
            if buffer.checkpoint is not None:
                batch.checkpoint = buffer.checkpoint
            if buffer.sweep_before is not None:
                batch.sweep_before = buffer.sweep_before
        except BaseException:
            self._rollback_open()
            raise

    def _commit_open(self) -> None:
        """Commit the open batch: its checkpoint (only while we still hold the lease), the
        run's counts and one ``exchange.fetched`` event; then sweep if a snapshot ended."""
        batch, self._open = self._open, None
        if batch is None:
            return
        session = batch.session
        try:
            values: dict[str, object] = {}
            if batch.checkpoint is not None:
                values["checkpoint"] = batch.checkpoint
            if not repository.renew_lease(
                session, self.exchange_id, self.owner, until=self._until(), values=values
            ):
                raise LeaseLost(
                    "another process took over this exchange's fetch (our lease ran out), or "
                    "the exchange was deleted; this batch was not written"
                )
            totals = ingest.Applied()
            totals.add(self.totals)
            totals.add(batch.applied)
            self._count(session, totals, batch.pages)
            self._event(session, batch.applied)
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()
            _resume_gc(batch.gc_was_enabled)
        self.totals = totals
        if batch.sweep_before is not None:
            self._sweep(batch.sweep_before)
        self.last_commit = self.options.clock()
        if self.options.progress is not None:
            self.options.progress(self.totals)

    def _rollback_open(self) -> None:
        batch, self._open = self._open, None
        if batch is not None:
            try:
                batch.session.rollback()
                batch.session.close()
            finally:
                _resume_gc(batch.gc_was_enabled)

    def _sweep(self, before: datetime) -> None:
        after = 0
        while True:
            with self.db.session() as session:
                if not repository.renew_lease(
                    session, self.exchange_id, self.owner, until=self._until()
                ):
                    raise LeaseLost("another process took over this exchange's fetch")
                exchange = session.get(Exchange, self.exchange_id)
                assert exchange is not None
                bank = service.bank_of(session, exchange)
                seq = change_seq(session)
                items, removed, last = ingest.sweep(
                    session, exchange, bank, before=before, seq=seq, now=utcnow(), after_id=after
                )
                if not items:
                    return
                applied = ingest.Applied(records=items, removed=removed)
                totals = ingest.Applied()
                totals.add(self.totals)
                totals.add(applied)
                self._count(session, totals, 0)
                self._event(session, applied)
            self.totals, after = totals, last

    def _count(self, session: Session, totals: ingest.Applied, pages: int) -> None:
        """Store the run's ``totals`` so far (and ``pages`` more) on its row."""
        run = session.get(ExchangeRun, self.run_id)
        assert run is not None
        run.pages += pages
        for name in ("records", "added", "updated", "removed", "quarantined", "skipped"):
            setattr(run, name, getattr(totals, name))

    def _event(self, session: Session, applied: ingest.Applied) -> None:
        if not (applied.records or applied.skipped):
            return
        audit.record(
            session,
            "exchange.fetched",
            actor=f"system:exchange-{self.exchange_id}",
            subject=f"exchange:{self.exchange_id}",
            principles=PRINCIPLES,
            payload={"run_id": self.run_id, **applied.as_payload()},
        )

    def _finish(self, status: RunStatus, error: str | None) -> RunOut:
        with self.db.session() as session:
            run = session.get(ExchangeRun, self.run_id)
            exchange = session.get(Exchange, self.exchange_id)
            assert run is not None
            assert exchange is not None
            run.status = status.value
            run.error = error[:2000] if error else None
            run.finished_at = utcnow()
            run.pages = max(run.pages, 0)
            service.schedule_next(exchange)
            repository.release_lease(
                session,
                exchange.id,
                self.owner,
                values={"next_run_at": exchange.next_run_at},
            )
            audit.record(
                session,
                "exchange.fetch_finished",
                actor=f"system:exchange-{exchange.id}",
                subject=f"exchange:{exchange.id}",
                principles=(10,),
                payload={
                    "run_id": run.id,
                    "status": status.value,
                    "trigger": run.trigger,
                    **self.totals.as_payload(),
                },
            )
            session.flush()
            out = RunOut.model_validate(run)
        log.info(
            "exchange.fetch_finished",
            extra={"exchange_id": self.exchange_id, "run_id": self.run_id, "status": status.value},
        )
        return out


def run_fetch(
    db: Database, settings: Settings, name: str, options: RunOptions | None = None
) -> RunOut:
    """Fetch exchange ``name`` now. Raises :class:`FetchBusy` when another process holds
    its lease, :class:`~shieldwall.core.errors.NotFound` for an unknown name."""
    return FetchRun(db, settings, name, options or RunOptions()).run()


class ExchangeScheduler:
    """The server's background thread: every ``exchange_poll_seconds`` it runs the fetches
    that are due, one after another. Several server processes may run it; the lease makes
    sure each exchange is fetched by one of them at a time."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None or not self.settings.exchange_scheduler:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="shieldwall-exchanges", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self.settings.exchange_poll_seconds):
            try:
                self.run_due()
            except Exception:
                log.exception("exchange.schedule_failed")

    def run_due(self) -> list[RunOut]:
        with self.db.session() as session:
            due = [
                e.name
                for e in (
                    repository.get_exchange(session, i)
                    for i in repository.due_exchanges(session, utcnow())
                )
                if e is not None
            ]
        done: list[RunOut] = []
        for name in due:
            if self._stop.is_set():
                break
            try:
                done.append(
                    run_fetch(
                        self.db,
                        self.settings,
                        name,
                        RunOptions(trigger=RunTrigger.SCHEDULE, stop=self._stop),
                    )
                )
            except (FetchBusy, NotFound):
                continue
        return done
