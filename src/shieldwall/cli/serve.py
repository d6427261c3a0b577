"""``shieldwall serve``: run the HTTP API and web pages with uvicorn."""

from __future__ import annotations

import os
from typing import Annotated

import typer
import uvicorn
from fastapi import FastAPI

from shieldwall.api import create_app
from shieldwall.cli.console import load, note, open_database
from shieldwall.config import load_settings
from shieldwall.demo import credentials_path, read_credentials
from shieldwall.logs import configure_logging

FACTORY = "shieldwall.cli.serve:app_factory"


def app_factory() -> FastAPI:
    """Build the app from the environment; what each uvicorn worker process calls.

    ``shieldwall serve --workers N`` passes its ``--host``/``--port`` on as
    ``SHIELDWALL_HOST``/``SHIELDWALL_PORT`` so every worker sees the same settings.
    """
    settings = load_settings()
    configure_logging(settings.log_level)
    return create_app(settings)


def serve(
    host: Annotated[
        str | None,
        typer.Option(help="Address to listen on (default: the `host` setting, 127.0.0.1)."),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(min=1, max=65535, help="Port to listen on (default: the `port` setting)."),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(min=1, max=64, help="Worker processes (default: the `workers` setting)."),
    ] = None,
) -> None:
    """Run the shieldwall server: HTTP API (docs at /docs) and web pages.

    Before it listens, the database schema is checked exactly as the app does: an embedded
    SQLite database is upgraded automatically; a PostgreSQL database that is behind stops
    the server with exit status 2 until you run `shieldwall db upgrade` (or set
    SHIELDWALL_AUTO_MIGRATE=true). When `shieldwall demo seed` has run, the demo login is
    printed too.

    Use it for a local instance (`make run` does seed + serve) or as the process your
    service manager starts in production, with one or more workers per machine behind
    a load balancer.

    Examples:

        shieldwall serve
        shieldwall serve --host 0.0.0.0 --port 8080 --workers 4
        SHIELDWALL_DATABASE_URL=postgresql+psycopg://sw@db/sw shieldwall serve
    """
    overrides = {
        name: value
        for name, value in (("host", host), ("port", port), ("workers", workers))
        if value is not None
    }
    settings = load(**overrides)
    configure_logging(settings.log_level)
    with open_database(settings):
        pass  # migrated (or refused) exactly as create_app would

    note(f"shieldwall listening on http://{settings.host}:{settings.port}", style="green")
    if settings.public_url:
        note(f"public URL: {settings.base_url}")
    note(f"API docs: {settings.base_url}/docs")
    demo = read_credentials(credentials_path(settings))
    if demo.get("username") and demo.get("password"):
        note(f"demo login: {demo['username']} / {demo['password']}", style="yellow")

    if settings.workers > 1:
        # Each worker process builds its own app from the environment.
        os.environ["SHIELDWALL_HOST"] = settings.host
        os.environ["SHIELDWALL_PORT"] = str(settings.port)
        uvicorn.run(
            FACTORY,
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=settings.workers,
            log_level=settings.log_level,
            access_log=False,
        )
        return
    uvicorn.run(
        create_app(settings, check_migrations=False),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        access_log=False,  # ours (shieldwall.access) leaves out query strings (hashes)
    )
