"""Which handler does each outbox kind: the registry every worker is built from.

A kind is a name like ``webhook`` or ``cybertipline.report``; the worker writes the events
``<kind>.delivered`` and ``<kind>.failed`` for it. Three ways to add one:

1. **Built in.** Add a line to :data:`BUILTIN`: the kind and ``"module:factory"``. The
   module is imported only when a worker is built, so ``jobs`` never imports a domain at
   import time (layers import downward)::

       BUILTIN = {
           "webhook": "shieldwall.actions.delivery:webhook_handler",
           "cybertipline.report": "shieldwall.reporting.delivery:cybertipline_handler",
       }

2. **At run time.** Call :func:`register` before the worker is built (tests, embedders)::

       from shieldwall.jobs import handlers

       def exchange_feedback(db, settings):
           def handle(item):              # item: OutboxItem, detached
               ...                        # return = done; raise RetryLater / PermanentFailure
           return handle

       handlers.register("exchange.feedback", exchange_feedback,
                         give_up_after=lambda s: timedelta(days=30))

3. **As a plug-in package.** An entry point in the group ``shieldwall.outbox_handlers``
   whose name is the kind and whose object is the factory.

A factory is called once per worker with the ``Database`` and ``Settings`` and returns the
handler (``Callable[[OutboxItem], None]``, see :mod:`shieldwall.jobs.outbox`). Enqueue work
for a kind with :func:`shieldwall.jobs.outbox.enqueue` in the transaction that decides it.
A worker claims only kinds it has a handler for; items of other kinds wait for a worker
that has.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from importlib.metadata import entry_points
from typing import Any

from shieldwall.config import Settings
from shieldwall.db.engine import Database
from shieldwall.jobs.outbox import KIND_PATTERN, Handler, OutboxWorker

__all__ = [
    "BUILTIN",
    "ENTRY_POINT_GROUP",
    "HandlerFactory",
    "Registration",
    "build_handlers",
    "build_worker",
    "register",
    "registrations",
    "unregister",
]

log = logging.getLogger(__name__)

HandlerFactory = Callable[[Database, Settings], Handler]
ENTRY_POINT_GROUP = "shieldwall.outbox_handlers"

#: Kinds shipped with shieldwall: kind -> "module:factory", imported when a worker is built.
BUILTIN: dict[str, str] = {
    "webhook": "shieldwall.actions.delivery:webhook_handler",
    "cybertipline.report": "shieldwall.reporting.delivery:report_handler",
    "hotline.report": "shieldwall.reporting.delivery:report_handler",
    "exchange.feedback": "shieldwall.exchanges.feedback:feedback_handler",
    "exchange.withdraw": "shieldwall.exchanges.withdraw:withdraw_handler",
}


def _webhook_max_age(settings: Settings) -> timedelta:
    return timedelta(hours=settings.webhook_give_up_hours)


#: Maximum ages of built-in kinds (others default to ``webhook_give_up_hours``).
def _report_max_age(settings: Settings) -> timedelta:
    return timedelta(days=settings.reporting_give_up_days)


BUILTIN_MAX_AGE: dict[str, Callable[[Settings], timedelta]] = {
    "webhook": _webhook_max_age,
    "cybertipline.report": _report_max_age,
    "hotline.report": _report_max_age,
    "exchange.feedback": lambda s: timedelta(days=s.exchange_feedback_give_up_days),
    # withdrawing a deleted exchange's entries only needs the database: keep trying
    "exchange.withdraw": lambda s: timedelta(days=30),
}


@dataclass(frozen=True)
class Registration:
    kind: str
    factory: HandlerFactory
    #: How long to keep retrying an item of this kind; None: ``webhook_give_up_hours``.
    give_up_after: Callable[[Settings], timedelta] | None = None


_REGISTERED: dict[str, Registration] = {}


def _check_kind(kind: str) -> None:
    if not KIND_PATTERN.fullmatch(kind) or len(kind) > 60:
        raise ValueError(f"outbox kind {kind!r} must look like 'webhook' or 'domain.verb'")


def register(
    kind: str,
    factory: HandlerFactory,
    *,
    give_up_after: Callable[[Settings], timedelta] | None = None,
) -> None:
    """Add (or replace) the handler factory for ``kind``; wins over built-ins and entry
    points."""
    _check_kind(kind)
    _REGISTERED[kind] = Registration(kind, factory, give_up_after)


def unregister(kind: str) -> None:
    """Forget a kind added with :func:`register` (tests)."""
    _REGISTERED.pop(kind, None)


def _load(target: str) -> Any:
    module_name, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module_name), attribute)


def registrations() -> dict[str, Registration]:
    """Every known kind: built-ins, then entry points, then :func:`register` calls."""
    found: dict[str, Registration] = {}
    for kind, target in BUILTIN.items():
        try:
            factory = _load(target)
        except Exception:
            # A broken kind must not stop the others (or the server): its items wait, unlost.
            log.exception("outbox.handler_unavailable", extra={"kind": kind})
            continue
        found[kind] = Registration(kind, factory, BUILTIN_MAX_AGE.get(kind))
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        try:
            _check_kind(entry.name)
            found[entry.name] = Registration(entry.name, entry.load())
        except Exception:
            log.exception("outbox.plugin_failed", extra={"kind": entry.name})
    found.update(_REGISTERED)
    return found


def build_handlers(
    db: Database, settings: Settings, *, overrides: Mapping[str, Handler] | None = None
) -> dict[str, Handler]:
    """One handler per known kind; ``overrides`` replace or add handlers (tests)."""
    out = {kind: reg.factory(db, settings) for kind, reg in registrations().items()}
    out.update(overrides or {})
    return out


def build_worker(
    db: Database,
    settings: Settings,
    *,
    overrides: Mapping[str, Handler] | None = None,
    **worker_options: Any,
) -> OutboxWorker:
    """A worker for every known kind, with each kind's maximum age."""
    regs = registrations()
    give_up = {kind: reg.give_up_after(settings) for kind, reg in regs.items() if reg.give_up_after}
    give_up.update(worker_options.pop("give_up_after", None) or {})
    return OutboxWorker(
        db,
        settings,
        build_handlers(db, settings, overrides=overrides),
        give_up_after=give_up,
        **worker_options,
    )
