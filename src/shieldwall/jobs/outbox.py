"""The transactional outbox: work queued in the caller's transaction, done after commit.

A change that must tell the outside world (a webhook to the platform, later a CyberTipline
report) calls :func:`enqueue` in the same transaction as the change itself. Nothing is sent
then; once the transaction commits, an :class:`OutboxWorker` (a thread in every server
process, or ``shieldwall jobs run``) claims the item, runs the handler for its ``kind`` and
records the outcome. If the transaction rolls back, the item never existed.

Delivery guarantees, stated honestly:

* **Never lost.** The item is a row committed with the change. A claim is a *lease*
  (``outbox_lease_seconds``): a worker killed between claiming and recording the outcome
  leaves the item ``sending``, and any worker claims it again once the lease has run out.
* **At least once, not exactly once.** A worker killed after the receiver got the request
  but before the outcome was committed sends it again after the lease. Every delivery of one
  item carries the same stable key (for webhooks the ``Idempotency-Key`` header and the body's
  ``id``), so a receiver that remembers keys acts once: effectively once.
* **Never doubled by us.** :func:`enqueue` is idempotent on ``key``; two workers never hold the
  same item at the same time (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, ``BEGIN IMMEDIATE``
  on SQLite).
* **One bad item never blocks the others.** Items are claimed one at a time, oldest due first;
  a failing item is pushed back with capped exponential backoff and jitter, and given up
  after its kind's maximum age (``webhook_give_up_hours`` unless the kind says otherwise),
  with an event ``<kind>.failed``. A successful delivery writes ``<kind>.delivered``.

Handlers: a ``Handler`` is called with the (detached) item outside any transaction. It returns
normally when the work is done, raises :class:`RetryLater` for a transient failure,
:class:`PermanentFailure` when retrying cannot help. Any other exception is treated as
transient and summarised in plain words (its type, never its message, which could quote
content). Handlers for each kind are registered in :mod:`shieldwall.jobs.handlers`.
"""

from __future__ import annotations

import json
import logging
import os
import random
import re
import socket
import threading
import uuid
import weakref
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import event
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shieldwall.audit import service as audit
from shieldwall.config import Settings
from shieldwall.core.principles import validate_principles
from shieldwall.db.base import utcnow
from shieldwall.db.engine import Database
from shieldwall.jobs import repository
from shieldwall.jobs.models import OutboxItem, OutboxStatus

__all__ = [
    "KIND_PATTERN",
    "Handler",
    "OutboxWorker",
    "PermanentFailure",
    "RetryLater",
    "backoff_delay",
    "enqueue",
]

log = logging.getLogger(__name__)

#: A kind names a handler and the events it writes (``<kind>.delivered``/``<kind>.failed``).
KIND_PATTERN = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")
MAX_KEY_CHARS = 200
ACTOR = "system:outbox"


class RetryLater(Exception):
    """A transient failure: try again after backoff (or after ``retry_after`` seconds, when
    the other side said so). ``message`` is plain words, no content."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


class PermanentFailure(Exception):
    """Retrying cannot help (the receiver refused the request): the item ends ``failed``."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


Handler = Callable[[OutboxItem], None]


# ---- enqueueing -----------------------------------------------------------------------------


def enqueue(
    session: Session,
    *,
    kind: str,
    key: str,
    payload: dict[str, Any],
    not_before: datetime | None = None,
    subject: str = "",
    principles: Iterable[int] = (),
) -> OutboxItem:
    """Queue work in the caller's transaction; flushes, never commits.

    Idempotent on ``key``: if an item with this key exists, it is returned and nothing is
    added. ``payload`` must be JSON and carry ids and labels only. ``subject`` and
    ``principles`` go into the events the worker writes (e.g. ``action:7``, ``[1]``).
    ``not_before`` delays the first attempt. Raises ``ValueError`` for a malformed kind, key
    or payload (a programming error, not user input).
    """
    if not KIND_PATTERN.fullmatch(kind) or len(kind) > 60:
        raise ValueError(f"outbox kind {kind!r} must look like 'webhook' or 'domain.verb'")
    if not key or len(key) > MAX_KEY_CHARS:
        raise ValueError(f"outbox key must be 1 to {MAX_KEY_CHARS} characters")
    try:
        body = json.loads(json.dumps(payload, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"outbox payload must be plain JSON: {exc}") from None
    numbers = list(validate_principles(tuple(principles)))

    existing = repository.get_by_key(session, key)
    if existing is not None:
        return existing
    now = utcnow()
    item = OutboxItem(
        kind=kind,
        key=key,
        subject=subject[:200],
        principles=numbers,
        payload=body,
        status=OutboxStatus.PENDING.value,
        attempts=0,
        created_at=now,
        next_attempt_at=max(now, not_before) if not_before is not None else now,
        updated_at=now,
    )
    try:
        with session.begin_nested():
            session.add(item)
    except IntegrityError:
        # Another transaction queued the same key and committed first.
        existing = repository.get_by_key(session, key)
        if existing is None:
            raise
        return existing
    _wake_workers_after_commit(session)
    return item


#: Running workers of this process, woken when a transaction that queued work commits, so
#: work queued here goes out at once instead of at the next poll.
_RUNNING: weakref.WeakSet[threading.Event] = weakref.WeakSet()


def _wake_workers_after_commit(session: Session) -> None:
    if session.info.get("outbox_wake"):
        return
    session.info["outbox_wake"] = True

    def wake(committed: Session) -> None:
        committed.info.pop("outbox_wake", None)
        for signal in list(_RUNNING):
            signal.set()

    event.listen(session, "after_commit", wake, once=True)


# ---- the worker ------------------------------------------------------------------------------


def backoff_delay(
    attempts: int, *, base: float, cap: float, rng: random.Random | None = None
) -> float:
    """Seconds to wait after the ``attempts``-th failed attempt: exponential from ``base``,
    capped at ``cap``, with "equal jitter" (between half and all of it) so many items that
    failed together do not come back together."""
    exponent = min(max(attempts - 1, 0), 32)
    ceiling = min(cap, base * float(2**exponent))
    jitter: float = (rng or random).uniform(0, ceiling / 2)
    return ceiling / 2 + jitter


def _plain_summary(kind: str, exc: BaseException) -> str:
    """An unexpected handler error in plain words. The message itself is left out: it could
    quote a payload or a reply; the log on the server has the traceback."""
    return f"unexpected error in the {kind} handler ({type(exc).__name__}); see the server log"


class OutboxWorker:
    """Claims due items one at a time, runs their handlers, records the outcomes.

    ``handlers`` maps kinds to handlers; items of other kinds are left for a worker that has
    them. ``give_up_after`` maps kinds to a maximum age (default: ``webhook_give_up_hours``).
    ``clock`` is a test seam (the receiver "down for hours" without sleeping).
    """

    #: Backoff after the first failure, and the longest wait between attempts (seconds).
    BACKOFF_BASE = 10.0
    BACKOFF_CAP = 3600.0
    #: Items one run handles before it checks for a stop and polls again.
    BATCH = 50

    def __init__(
        self,
        db: Database,
        settings: Settings,
        handlers: Mapping[str, Handler],
        *,
        give_up_after: Mapping[str, timedelta] | None = None,
        clock: Callable[[], datetime] = utcnow,
        name: str | None = None,
        rng: random.Random | None = None,
        backoff_base: float | None = None,
        backoff_cap: float | None = None,
    ) -> None:
        for kind in handlers:
            if not KIND_PATTERN.fullmatch(kind):
                raise ValueError(f"outbox kind {kind!r} must look like 'webhook' or 'domain.verb'")
        self.db = db
        self.settings = settings
        self.handlers = dict(handlers)
        self.give_up_after = dict(give_up_after or {})
        self.clock = clock
        self.name = name or f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.rng = rng or random.Random()  # noqa: S311 (jitter, not secrecy)
        self.backoff_base = backoff_base if backoff_base is not None else self.BACKOFF_BASE
        self.backoff_cap = backoff_cap if backoff_cap is not None else self.BACKOFF_CAP
        self.last_error: str | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    # ---- settings ---------------------------------------------------------------------------

    @property
    def lease(self) -> timedelta:
        """How long a claim lasts: the setting, but never shorter than one webhook attempt."""
        seconds = max(self.settings.outbox_lease_seconds, self.settings.webhook_timeout_seconds + 1)
        return timedelta(seconds=seconds)

    def max_age(self, kind: str) -> timedelta:
        default = timedelta(hours=self.settings.webhook_give_up_hours)
        return self.give_up_after.get(kind, default)

    # ---- one pass ---------------------------------------------------------------------------

    def run_once(self, limit: int = 50) -> dict[str, int]:
        """Handle up to ``limit`` due items; returns counts by outcome (``claimed``, ``sent``,
        ``retrying``, ``failed``, ``dead``, ``lost`` — the lease ran out before the outcome
        was recorded — and ``errors`` — the outcome could not be recorded).

        A database that cannot be reached while claiming raises (the caller retries later);
        everything that goes wrong with one item is contained to that item.
        """
        counts = dict.fromkeys(
            ("claimed", "sent", "retrying", "failed", "dead", "lost", "errors"), 0
        )
        for _ in range(limit):
            if self._stop.is_set():
                break
            item = self._claim()
            if item is None:
                break
            counts["claimed"] += 1
            try:
                outcome = self._process(item)
            except Exception:
                log.exception("outbox.record_failed", extra={"item_id": item.id, "kind": item.kind})
                outcome = "errors"
            counts[outcome] += 1
        return counts

    def _claim(self) -> OutboxItem | None:
        now = self.clock()
        with self.db.session() as session:
            item = repository.claim_next(
                session,
                kinds=self.handlers.keys(),
                now=now,
                lease_until=now + self.lease,
                owner=self.name,
            )
            if item is not None:
                session.expunge(item)
            return item

    def _process(self, item: OutboxItem) -> str:
        handler = self.handlers[item.kind]
        try:
            handler(item)
        except RetryLater as exc:
            return self._retry(item, exc.message, exc.retry_after)
        except PermanentFailure as exc:
            return self._finish(item, OutboxStatus.FAILED, exc.message, reason="refused")
        except Exception as exc:
            log.warning(
                "outbox.handler_error",
                exc_info=True,
                extra={"item_id": item.id, "kind": item.kind, "error_type": type(exc).__name__},
            )
            return self._retry(item, _plain_summary(item.kind, exc), None)
        return self._sent(item)

    def _sent(self, item: OutboxItem) -> str:
        now = self.clock()
        with self.db.session() as session:
            if not repository.mark_sent(session, item.id, now=now):
                return "lost"  # finished meanwhile (another worker recorded it); no 2nd event
            audit.record(
                session,
                f"{item.kind}.delivered",
                actor=ACTOR,
                subject=item.subject,
                principles=item.principles,
                payload={"outbox_item_id": item.id, "attempts": item.attempts},
            )
        log.info("outbox.sent", extra={"item_id": item.id, "kind": item.kind})
        return "sent"

    def _retry(self, item: OutboxItem, error: str, retry_after: float | None) -> str:
        now = self.clock()
        deadline = item.created_at + self.max_age(item.kind)
        if now >= deadline:
            return self._finish(
                item,
                OutboxStatus.DEAD,
                f"gave up after {item.attempts} attempts: {error}",
                reason="gave_up",
            )
        delay = backoff_delay(
            item.attempts, base=self.backoff_base, cap=self.backoff_cap, rng=self.rng
        )
        if retry_after is not None:
            delay = max(delay, min(float(retry_after), self.backoff_cap))
        # The last attempt falls on the deadline, not after it.
        next_at = min(now + timedelta(seconds=delay), deadline)
        with self.db.session() as session:
            changed = repository.mark_retry(
                session,
                item.id,
                owner=self.name,
                attempts=item.attempts,
                next_attempt_at=next_at,
                error=error[:500],
                now=now,
            )
        log.info(
            "outbox.retry_scheduled",
            extra={"item_id": item.id, "kind": item.kind, "attempts": item.attempts},
        )
        return "retrying" if changed else "lost"

    def _finish(self, item: OutboxItem, status: OutboxStatus, error: str, *, reason: str) -> str:
        now = self.clock()
        with self.db.session() as session:
            changed = repository.mark_finished(
                session,
                item.id,
                owner=self.name,
                attempts=item.attempts,
                status=status,
                error=error[:500],
                now=now,
            )
            if not changed:
                return "lost"
            audit.record(
                session,
                f"{item.kind}.failed",
                actor=ACTOR,
                subject=item.subject,
                principles=item.principles,
                payload={"outbox_item_id": item.id, "attempts": item.attempts, "reason": reason},
            )
        log.warning(
            "outbox.gave_up" if status is OutboxStatus.DEAD else "outbox.refused",
            extra={"item_id": item.id, "kind": item.kind, "attempts": item.attempts},
        )
        return "dead" if status is OutboxStatus.DEAD else "failed"

    # ---- background thread ------------------------------------------------------------------

    def start(self) -> None:
        """Run in a background thread until :meth:`stop`; survives database outages."""
        if self._thread is not None:
            return
        self._stop.clear()
        _RUNNING.add(self._wake)
        self._thread = threading.Thread(
            target=self.run_forever, name="shieldwall-outbox", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Ask the loop to stop after the item in hand and wait for it."""
        self._stop.set()
        self._wake.set()
        _RUNNING.discard(self._wake)
        if self._thread is not None:
            self._thread.join(timeout=timeout)
            self._thread = None

    def wake(self) -> None:
        """Look for due work now instead of at the next poll."""
        self._wake.set()

    def run_forever(self) -> None:
        """Poll every ``outbox_poll_seconds`` (at once again after a full batch); on errors
        (database down) wait longer each time, up to a minute, and keep going."""
        poll = self.settings.outbox_poll_seconds
        failures = 0
        while not self._stop.is_set():
            wait = poll
            # Cleared before looking, so work queued while this pass runs wakes the next one.
            self._wake.clear()
            try:
                counts = self.run_once(self.BATCH)
            except Exception as exc:
                failures += 1
                first_line = (str(exc).splitlines() or [""])[0]
                self.last_error = f"{type(exc).__name__}: {first_line[:200]}"
                wait = min(60.0, poll * (2 ** min(failures, 6)))
                # The traceback once per outage, then one line per failed poll.
                log.warning(
                    "outbox.worker_error",
                    exc_info=failures == 1,
                    extra={"failures": failures, "error_type": type(exc).__name__},
                )
            else:
                failures = 0
                self.last_error = None
                if counts["claimed"] >= self.BATCH:
                    continue
            self._wake.wait(wait)
