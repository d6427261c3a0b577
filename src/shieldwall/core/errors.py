"""The one exception tree of shieldwall.

Every failure a caller can act on is one of these. The HTTP API turns each into an
RFC 9457 problem-details answer with the status and ``slug`` below; the CLI prints the
message and exits non-zero. Nothing here knows about HTTP beyond the status number.

::

    ShieldwallError (500 internal)
    ├── InvalidInput (422 invalid-input)
    │   └── PayloadTooLarge (413 payload-too-large)
    ├── AuthenticationRequired (401 authentication-required)
    │   └── AccountLocked (423 account-locked)
    ├── PermissionDenied (403 permission-denied)
    ├── NotFound (404 not-found)
    ├── Conflict (409 conflict)
    ├── RateLimited (429 rate-limited)
    └── ServiceUnavailable (503 service-unavailable)
        └── DatabaseNotMigrated (503 database-not-migrated)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, ClassVar


class ShieldwallError(Exception):
    """Base of every shieldwall error; ``message`` is safe to show to the caller."""

    status: ClassVar[int] = 500
    slug: ClassVar[str] = "internal"
    title: ClassVar[str] = "Internal error"

    def __init__(self, message: str, **context: Any) -> None:
        super().__init__(message)
        self.message = message
        #: Extra, non-secret facts for the caller (e.g. which field, which id).
        self.context: dict[str, Any] = context


class InvalidInput(ShieldwallError):
    """The request or file is malformed or breaks a rule; nothing was written."""

    status = 422
    slug = "invalid-input"
    title = "Invalid input"


class PayloadTooLarge(InvalidInput):
    """The body or file is larger than the configured limit."""

    status = 413
    slug = "payload-too-large"
    title = "Payload too large"


class AuthenticationRequired(ShieldwallError):
    """No credentials, or credentials that are wrong, expired or revoked."""

    status = 401
    slug = "authentication-required"
    title = "Authentication required"


class AccountLocked(AuthenticationRequired):
    """Too many failed logins; the account is locked until ``locked_until``."""

    status = 423
    slug = "account-locked"
    title = "Account locked"


class PermissionDenied(ShieldwallError):
    """Authenticated, but the role or key scopes do not allow this action."""

    status = 403
    slug = "permission-denied"
    title = "Permission denied"


class NotFound(ShieldwallError):
    status = 404
    slug = "not-found"
    title = "Not found"


class Conflict(ShieldwallError):
    """The change clashes with existing state (duplicate name, revoked key, ...)."""

    status = 409
    slug = "conflict"
    title = "Conflict"


class RateLimited(ShieldwallError):
    """Too many requests from one caller; ``retry_after`` (seconds) says when to try again."""

    status = 429
    slug = "rate-limited"
    title = "Too many requests"

    def __init__(self, message: str, *, retry_after: int, **context: Any) -> None:
        super().__init__(message, retry_after=retry_after, **context)
        self.retry_after = retry_after


class ServiceUnavailable(ShieldwallError):
    """A dependency (database, index) is not ready; retry later."""

    status = 503
    slug = "service-unavailable"
    title = "Service unavailable"


class DatabaseNotMigrated(ServiceUnavailable):
    """The database schema is older than this code; run ``shieldwall db upgrade``."""

    slug = "database-not-migrated"
    title = "Database not migrated"


def describe_errors(errors: Iterable[Mapping[str, Any]]) -> str:
    """``field: problem; field: problem`` from validation errors (pydantic's
    ``exc.errors(include_input=False)``), never echoing input values, which may be passwords."""
    parts = [
        f"{'.'.join(str(p) for p in error.get('loc', ())) or 'value'}: {error.get('msg', '')}"
        for error in errors
    ]
    return "; ".join(parts) or "invalid input"


ALL_ERRORS: tuple[type[ShieldwallError], ...] = (
    ShieldwallError,
    InvalidInput,
    PayloadTooLarge,
    AuthenticationRequired,
    AccountLocked,
    PermissionDenied,
    NotFound,
    Conflict,
    RateLimited,
    ServiceUnavailable,
    DatabaseNotMigrated,
)
