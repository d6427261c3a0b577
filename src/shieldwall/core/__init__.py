"""The pure shieldwall library: no database, web or CLI imports.

Public surface::

    from shieldwall.core import PRINCIPLES, Principle, Role, Scope, ShieldwallError
"""

from shieldwall.core.access import (
    INTEGRATION_SCOPES,
    ROLE_SCOPES,
    Role,
    Scope,
    scopes_for_role,
)
from shieldwall.core.errors import (
    AccountLocked,
    AuthenticationRequired,
    Conflict,
    DatabaseNotMigrated,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    ServiceUnavailable,
    ShieldwallError,
)
from shieldwall.core.principles import PRINCIPLES, Principle, get_principle

__all__ = [
    "INTEGRATION_SCOPES",
    "PRINCIPLES",
    "ROLE_SCOPES",
    "AccountLocked",
    "AuthenticationRequired",
    "Conflict",
    "DatabaseNotMigrated",
    "InvalidInput",
    "NotFound",
    "PayloadTooLarge",
    "PermissionDenied",
    "Principle",
    "Role",
    "Scope",
    "ServiceUnavailable",
    "ShieldwallError",
    "get_principle",
    "scopes_for_role",
]
