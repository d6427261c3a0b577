"""The application factory: one call builds API, web pages and static files."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from shieldwall import __version__
from shieldwall.api import problems
from shieldwall.api.middleware import BodyLimitMiddleware, RequestIdMiddleware
from shieldwall.api.routers import (
    accountability,
    actions,
    apikeys,
    appeals,
    banks,
    cases,
    events,
    evidence,
    exchanges,
    health,
    hma,
    intake,
    me,
    overview,
    principles,
    reports,
    scan,
    terms,
    text,
    transparency,
    users,
)
from shieldwall.config import Settings, load_settings
from shieldwall.db import migrate
from shieldwall.db.engine import Database
from shieldwall.exchanges.runner import ExchangeScheduler
from shieldwall.jobs import handlers as job_handlers
from shieldwall.matching.index import MatchIndex

log = logging.getLogger("shieldwall.api")

DESCRIPTION = """
shieldwall's HTTP API. Authenticate with an API key: `Authorization: Bearer sw_...`.
Every error is an RFC 9457 problem-details object (`application/problem+json`).
"""


def create_app(
    settings: Settings | None = None,
    *,
    database: Database | None = None,
    check_migrations: bool = True,
) -> FastAPI:
    """Build the app. With ``check_migrations`` the database must be current (SQLite is
    upgraded automatically unless ``auto_migrate`` is off); otherwise
    :class:`~shieldwall.core.errors.DatabaseNotMigrated` is raised."""
    settings = settings or load_settings()
    db = database or Database(settings.effective_database_url)
    if check_migrations:
        migrate.ensure_current(db.engine, auto_migrate=settings.should_auto_migrate)

    match_index = MatchIndex(db, settings)
    # Sends queued webhooks (and other outbox work) after the requests that queued them commit.
    outbox_worker = job_handlers.build_worker(db, settings)
    # Runs the hash-exchange fetches that are due (one process per exchange, by a lease).
    exchange_scheduler = ExchangeScheduler(db, settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        match_index.start()
        if settings.outbox_in_server:
            outbox_worker.start()
        exchange_scheduler.start()
        try:
            yield
        finally:
            exchange_scheduler.stop()
            outbox_worker.stop()
            match_index.stop()
            if database is None:
                db.dispose()

    app = FastAPI(
        title="shieldwall",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # the offline Swagger UI page comes from shieldwall.web
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.db = db
    app.state.match_index = match_index
    app.state.outbox_worker = outbox_worker
    app.state.exchange_scheduler = exchange_scheduler
    app.state.readiness_checks = {
        "database": health.database_check,
        "index": lambda app: app.state.match_index.readiness(),
    }

    problems.install(app)
    for router in (health, principles, me, users, apikeys, events, overview, banks, scan, hma):
        app.include_router(router.router)
    app.include_router(actions.router)
    app.include_router(cases.router)
    app.include_router(appeals.router)
    app.include_router(accountability.router)
    app.include_router(intake.router)
    app.include_router(terms.router)
    app.include_router(text.router)
    app.include_router(exchanges.router)
    app.include_router(evidence.router)
    app.include_router(reports.router)
    app.include_router(transparency.router)

    from shieldwall.web import mount_web

    mount_web(app)

    media_paths = ("/v1/scan", "/h/hash", "/m/lookup", "/scan")

    def limit_for(path: str) -> int:
        # Bank files are uploaded to .../import (API and web), media to the scan endpoints;
        # everything else is small.
        if path.endswith("/import"):
            return settings.import_max_bytes
        if path in media_paths:
            # multipart framing adds a little to the file itself
            return settings.scan_max_bytes + 64 * 1024
        return settings.max_body_bytes

    app.add_middleware(BodyLimitMiddleware, limit_for=limit_for)
    app.add_middleware(RequestIdMiddleware)
    return app
