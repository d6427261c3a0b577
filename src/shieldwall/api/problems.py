"""RFC 9457 problem details for every error the API answers.

Each answer has ``type`` (a URI naming the class of problem, documented at
``/problems/<slug>``), ``title``, ``status``, ``detail`` (what went wrong and what to do),
``instance`` (the request path) and ``request_id`` (also in the ``X-Request-ID`` header,
and in the server log line for the error).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from shieldwall.core.errors import ALL_ERRORS, RateLimited, ShieldwallError

log = logging.getLogger("shieldwall.api")
MEDIA_TYPE = "application/problem+json"

_HTTP_SLUGS = {
    400: ("bad-request", "Bad request"),
    401: ("authentication-required", "Authentication required"),
    403: ("permission-denied", "Permission denied"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    406: ("not-acceptable", "Not acceptable"),
    413: ("payload-too-large", "Payload too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    422: ("invalid-input", "Invalid input"),
    429: ("too-many-requests", "Too many requests"),
}

#: Every problem type the API can answer, for the /problems pages.
PROBLEM_TYPES: dict[str, str] = {
    **{cls.slug: cls.title for cls in ALL_ERRORS},
    **{slug: title for slug, title in _HTTP_SLUGS.values()},
    "malformed-json": "Malformed JSON",
}


def problem_type(slug: str) -> str:
    return f"/problems/{slug}"


def problem_body(
    *,
    status: int,
    slug: str,
    title: str,
    detail: str,
    instance: str,
    request_id: str,
    context: Mapping[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A problem body. ``context`` (an error's own details, whatever their names) goes in
    first, so the problem's members always win over it; ``extra`` members are ours."""
    body: dict[str, Any] = {k: v for k, v in (context or {}).items() if v is not None}
    body.update(
        {
            "type": problem_type(slug),
            "title": title,
            "status": status,
            "detail": detail,
            "instance": instance,
            "request_id": request_id,
        }
    )
    body.update({k: v for k, v in extra.items() if v is not None})
    return body


def request_id_of(request: Request) -> str:
    return str(getattr(request.state, "request_id", "") or request.scope.get("request_id", ""))


def problem_response(
    request: Request,
    *,
    status: int,
    slug: str,
    title: str,
    detail: str,
    headers: dict[str, str] | None = None,
    context: Mapping[str, Any] | None = None,
    **extra: Any,
) -> JSONResponse:
    rid = request_id_of(request)
    body = problem_body(
        status=status,
        slug=slug,
        title=title,
        detail=detail,
        instance=request.url.path,
        request_id=rid,
        context=context,
        **extra,
    )
    merged = {"X-Request-ID": rid, **(headers or {})}
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=merged)


def _location(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body",)] or [str(loc[0]) if loc else "body"]
    return ".".join(parts)


async def _on_shieldwall_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ShieldwallError)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    if isinstance(exc, RateLimited):
        headers = {"Retry-After": str(max(1, exc.retry_after))}
    if exc.status >= 500:
        log.warning("request.failed %s", exc.slug, extra={"request_id": request_id_of(request)})
    return problem_response(
        request,
        status=exc.status,
        slug=exc.slug,
        title=exc.title,
        detail=exc.message,
        headers=headers,
        context={k: v for k, v in exc.context.items() if isinstance(v, str | int | float | bool)},
    )


async def _on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = []
    for err in exc.errors():
        if err.get("type") == "json_invalid":
            return problem_response(
                request,
                status=400,
                slug="malformed-json",
                title="Malformed JSON",
                detail="the request body is not valid JSON: "
                f"{err.get('ctx', {}).get('error', 'cannot parse')}",
            )
        errors.append({"field": _location(err.get("loc", ())), "message": err.get("msg", "")})
    summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
    return problem_response(
        request,
        status=422,
        slug="invalid-input",
        title="Invalid input",
        detail=f"the request does not match the schema: {summary}",
        errors=errors,
    )


def _allowed_methods(request: Request) -> set[str]:
    """Every method some route accepts at this path (Starlette reports only the first)."""
    methods: set[str] = set()
    for route in iter_route_contexts(request.app.routes):
        match, _ = route.matches(request.scope)
        route_methods = getattr(route, "methods", None)
        if match is not Match.NONE and route_methods:
            methods |= set(route_methods)
    return methods


async def _on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    slug, title = _HTTP_SLUGS.get(exc.status_code, ("http-error", "HTTP error"))
    detail = exc.detail if isinstance(exc.detail, str) else title
    headers = dict(exc.headers or {})
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"there is nothing at {request.url.path}; the API lives under /v1 (see /docs)"
    if exc.status_code == 405:
        detail = f"{request.method} is not allowed on {request.url.path}"
        allowed = _allowed_methods(request)
        if allowed:
            headers["Allow"] = ", ".join(sorted(allowed))
    return problem_response(
        request,
        status=exc.status_code,
        slug=slug,
        title=title,
        detail=detail,
        headers=headers,
    )


async def _on_database_down(request: Request, exc: Exception) -> JSONResponse:
    """A lost or refused database connection: retry later, nothing was saved."""
    log.warning(
        "request.database_unavailable",
        extra={"request_id": request_id_of(request), "error": type(exc).__name__},
    )
    return problem_response(
        request,
        status=503,
        slug="service-unavailable",
        title="Service unavailable",
        detail="the database is not reachable right now; nothing was saved, retry shortly",
        headers={"Retry-After": "5"},
    )


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    rid = request_id_of(request)
    log.exception("request.crashed", extra={"request_id": rid, "path": request.url.path})
    return problem_response(
        request,
        status=500,
        slug="internal",
        title="Internal error",
        detail=f"an unexpected error happened; nothing was saved. Quote request id {rid} "
        "when reporting it",
    )


def install(app: FastAPI) -> None:
    app.add_exception_handler(ShieldwallError, _on_shieldwall_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(OperationalError, _on_database_down)
    app.add_exception_handler(Exception, _on_unexpected)
