"""Browser login: session cookie, CSRF tokens, same-origin checks and security headers.

CSRF: every form carries ``csrf_token`` = HMAC(secret, csrf cookie + session cookie). The
csrf cookie is random, HttpOnly and SameSite=Strict; a POST whose token does not match, or
whose Origin header names another site, is refused before anything is read or written.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from fastapi import Depends, FastAPI, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session

from shieldwall.api.deps import DbSession
from shieldwall.config import Settings
from shieldwall.core.access import Principal, Scope
from shieldwall.core.tokens import same_token
from shieldwall.users import service as users
from shieldwall.users.models import User

SESSION_COOKIE = "sw_session"
CSRF_COOKIE = "sw_csrf"


class LoginRequired(Exception):
    def __init__(self, next_path: str) -> None:
        self.next_path = next_path


class WebForbidden(Exception):
    def __init__(self, message: str, status: int = 403) -> None:
        self.message = message
        self.status = status


class WebUser:
    """The logged-in person on a page."""

    def __init__(self, user: User, session_token: str) -> None:
        # Plain copies: pages render after the request's session may have rolled back,
        # which expires ORM objects.
        self.user_id = user.id
        self.username = user.username
        self.role = user.role
        self.principal: Principal = users.principal_for(user)
        self.session_token = session_token

    def can(self, scope: Scope) -> bool:
        return self.principal.can(scope)


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _secret(request: Request) -> bytes:
    cached = getattr(request.app.state, "secret_key", None)
    if cached is None:
        cached = _settings(request).resolved_secret_key()
        request.app.state.secret_key = cached
    return bytes(cached)


def csrf_cookie_value(request: Request) -> str:
    """The browser's csrf cookie, creating one for this response if it has none."""
    # A cookie set during this request (login, rotation) wins over the one the browser sent.
    value = getattr(request.state, "new_csrf", None) or request.cookies.get(CSRF_COOKIE)
    if not value or len(value) > 100:
        value = secrets.token_urlsafe(32)
        request.state.new_csrf = value
    return str(value)


def csrf_token(request: Request) -> str:
    session_token = request.cookies.get(SESSION_COOKIE, "")
    if getattr(request.state, "new_session", None):
        session_token = request.state.new_session
    message = f"{csrf_cookie_value(request)}|{session_token}".encode()
    return hmac.new(_secret(request), message, hashlib.sha256).hexdigest()


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin") or request.headers.get("referer")
    if not origin or origin == "null":
        return origin is None
    host = request.headers.get("host", "")
    try:
        netloc = urlsplit(origin).netloc
    except ValueError:
        # A header no browser would send (``http://[::1``): not this site.
        return False
    return netloc == host


async def verify_csrf(request: Request) -> None:
    """Refuse a form POST without a valid token or from another origin."""
    form = await request.form()
    sent = form.get("csrf_token", "")
    cookie = request.cookies.get(CSRF_COOKIE, "")
    if not cookie or not _same_origin(request):
        raise WebForbidden("this form was not sent from a shieldwall page; reload and try again")
    session_token = request.cookies.get(SESSION_COOKIE, "")
    message = f"{cookie}|{session_token}".encode()
    expected = hmac.new(_secret(request), message, hashlib.sha256).hexdigest()
    if not same_token(expected, sent):
        raise WebForbidden(
            "this form was already sent, or its security token is missing or stale: "
            "nothing was done. Open the page again and retry"
        )


CsrfChecked = Depends(verify_csrf)


def set_cookies(request: Request, response: Response) -> None:
    """Write any cookie created while handling the request."""
    settings = _settings(request)
    new_csrf = getattr(request.state, "new_csrf", None)
    if new_csrf:
        response.set_cookie(
            CSRF_COOKIE,
            new_csrf,
            httponly=True,
            secure=settings.session_cookie_secure,
            samesite="strict",
            path="/",
        )
    new_session = getattr(request.state, "new_session", None)
    if new_session:
        response.set_cookie(
            SESSION_COOKIE,
            new_session,
            httponly=True,
            secure=settings.session_cookie_secure,
            samesite="lax",
            path="/",
            max_age=settings.session_lifetime_minutes * 60,
        )
    if getattr(request.state, "clear_session", False):
        response.delete_cookie(SESSION_COOKIE, path="/")


def optional_user(request: Request, db: DbSession) -> WebUser | None:
    token = request.cookies.get(SESSION_COOKIE, "")
    found = users.resolve_web_session(db, token)
    if found is None:
        return None
    return WebUser(found[1], token)


def current_user(request: Request, db: DbSession) -> WebUser:
    user = optional_user(request, db)
    if user is None:
        path = request.url.path
        if request.url.query:
            path += "?" + request.url.query
        raise LoginRequired(path)
    request.state.web_user = user
    request.state.actor = user.principal.actor
    return user


CurrentUser = Annotated[WebUser, Depends(current_user)]


def page_requires(scope: Scope) -> Any:
    def check(user: CurrentUser) -> WebUser:
        return _refuse_without(user, scope)

    check.required_scope = scope  # type: ignore[attr-defined]
    return Depends(check)


def _refuse_without(user: WebUser, scope: Scope) -> WebUser:
    if not user.can(scope):
        raise WebForbidden(
            f"your role ({user.role}) cannot open this page; it needs '{scope.value}'"
        )
    return user


def public_page_reader(setting: str, scope: Scope | None = None) -> Any:
    """A dependency for pages that anyone may read while the ``setting`` (a boolean
    Settings field) is on (a logged-in person is still shown); otherwise a login, which
    must have ``scope`` when one is given."""

    def reader(request: Request, db: DbSession) -> WebUser | None:
        if getattr(request.app.state.settings, setting):
            user = optional_user(request, db)
            request.state.web_user = user
            return user
        user = current_user(request, db)
        return user if scope is None else _refuse_without(user, scope)

    return Depends(reader)


def safe_next(value: str | None) -> str:
    """Only same-site relative paths are followed after login (no open redirect)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


def install_handlers(app: FastAPI) -> None:
    from shieldwall.web.render import render

    async def on_login_required(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, LoginRequired)
        return RedirectResponse(f"/login?next={quote(exc.next_path)}", status_code=303)

    async def on_forbidden(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, WebForbidden)
        return render(request, "error.html", {"message": exc.message}, status=exc.status)

    app.add_exception_handler(LoginRequired, on_login_required)
    app.add_exception_handler(WebForbidden, on_forbidden)

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if isinstance(response, HTMLResponse) or response.headers.get(
            "content-type", ""
        ).startswith("text/html"):
            response.headers.setdefault("X-Frame-Options", "DENY")
            if not request.url.path.startswith("/docs"):
                response.headers.setdefault(
                    "Content-Security-Policy",
                    "default-src 'self'; img-src 'self' data:; style-src 'self'; "
                    "script-src 'self'; frame-ancestors 'none'; form-action 'self'",
                )
        return response


def rotate_csrf(request: Request) -> None:
    """Give the browser a new csrf cookie: forms rendered before now stop working, so a
    reloaded POST (which re-sends the old form) is refused instead of acting twice."""
    request.state.new_csrf = secrets.token_urlsafe(32)


def start_login(request: Request, db: Session, user: User) -> None:
    request.state.new_session = users.start_web_session(db, user, _settings(request))
    # A fresh csrf cookie at login, so a token seen before login is worthless after it.
    rotate_csrf(request)
