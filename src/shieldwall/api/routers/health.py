"""Liveness, readiness and the problem-type pages. No authentication."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from shieldwall.api.problems import PROBLEM_TYPES, problem_response
from shieldwall.db import migrate

router = APIRouter(tags=["health"])
log = logging.getLogger("shieldwall.api")

#: A readiness check returns (ok, detail). Later capabilities (indexes) add their own.
ReadinessCheck = Callable[[Any], tuple[bool, str]]


def database_check(app: Any) -> tuple[bool, str]:
    engine = app.state.db.engine
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        if not migrate.is_current(engine):
            return False, "database schema is not current; run `shieldwall db upgrade`"
    except Exception as exc:  # any driver error means "not ready", never a crash
        log.warning("readyz.database_unreachable %s", type(exc).__name__)
        return False, f"database unreachable ({type(exc).__name__})"
    return True, "ok"


@router.get("/healthz", summary="Liveness: the process is up")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness: database reachable and migrated", response_model=None)
def readyz(request: Request) -> dict[str, Any] | JSONResponse:
    checks: dict[str, dict[str, Any]] = {}
    for name, check in request.app.state.readiness_checks.items():
        ok, detail = check(request.app)
        checks[name] = {"ok": ok, "detail": detail}
    failing = [name for name, c in checks.items() if not c["ok"]]
    if failing:
        detail = "; ".join(f"{n}: {checks[n]['detail']}" for n in failing)
        return problem_response(
            request,
            status=503,
            slug="service-unavailable",
            title="Not ready",
            detail=detail,
            checks=checks,
        )
    return {"status": "ready", "checks": checks}


@router.get("/problems/{slug}", summary="What a problem type means", include_in_schema=False)
def problem_page(slug: str, request: Request) -> dict[str, str]:
    if slug not in PROBLEM_TYPES:
        from shieldwall.core.errors import NotFound

        raise NotFound(f"no problem type {slug!r}; known: {', '.join(sorted(PROBLEM_TYPES))}")
    return {"type": f"/problems/{slug}", "title": PROBLEM_TYPES[slug]}
