"""Template rendering with the context every page needs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError

from shieldwall import __version__
from shieldwall.core.errors import ShieldwallError, describe_errors
from shieldwall.web.security import csrf_token, set_cookies

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


def form_error(exc: ValidationError | ShieldwallError) -> str:
    """The message a form shows for a refused submission."""
    if isinstance(exc, ShieldwallError):
        return exc.message
    return describe_errors(exc.errors(include_input=False, include_url=False))


def render(
    request: Request, name: str, context: dict[str, Any] | None = None, *, status: int = 200
) -> HTMLResponse:
    ctx: dict[str, Any] = {
        "csrf_token": csrf_token(request),
        "version": __version__,
        "user": getattr(request.state, "web_user", None),
    }
    ctx.update(context or {})
    response = templates.TemplateResponse(request, name, ctx, status_code=status)
    set_cookies(request, response)
    return response


def see_other(request: Request, path: str) -> RedirectResponse:
    """The answer to a form that worked: 303 to ``path`` (post/redirect/get), carrying the
    session and CSRF cookies the request may have rotated."""
    response = RedirectResponse(path, status_code=303)
    set_cookies(request, response)
    return response
