"""Who may do what: roles for people, scopes for API keys.

Every route requires one :class:`Scope`. A person holds the scopes of their :class:`Role`;
a personal API key holds the scopes it was created with, cut down at every request to those
its owner's role still has; an integration key (for a platform's servers) may only hold
:data:`INTEGRATION_SCOPES`, so it can never read the review queue or manage people.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    REVIEWER = "reviewer"
    ANALYST = "analyst"


class Scope(StrEnum):
    SCAN = "scan"
    BANKS_READ = "banks:read"
    BANKS_WRITE = "banks:write"
    CASES_READ = "cases:read"
    CASES_WRITE = "cases:write"
    #: A platform's servers sending signals in: user reports, appeals, takedown requests.
    CASES_SUBMIT = "cases:submit"
    REPORTS_READ = "reports:read"
    REPORTS_WRITE = "reports:write"
    EVENTS_READ = "events:read"
    USERS_MANAGE = "users:manage"
    APIKEYS_MANAGE = "apikeys:manage"
    #: Edit the industry accountability tracker (companies, commitments, disclosures, evidence).
    ACCOUNTABILITY_WRITE = "accountability:write"
    #: Configure hash exchanges (sources fetched into banks, banks shared with partners).
    EXCHANGES_MANAGE = "exchanges:manage"
    #: A partner deployment reading a bank we share (``GET /v1/exchange/feeds/{bank}``).
    EXCHANGE_READ = "exchange:read"
    #: Read the evidence vault (metadata, preserved files and report data; every read logged).
    EVIDENCE_READ = "evidence:read"
    #: Place and release legal holds on evidence (admins only).
    EVIDENCE_HOLD = "evidence:hold"


ROLE_SCOPES: dict[Role, frozenset[Scope]] = {
    Role.ADMIN: frozenset(Scope),
    Role.REVIEWER: frozenset(
        {Scope.SCAN, Scope.BANKS_READ, Scope.CASES_READ, Scope.CASES_WRITE, Scope.EVIDENCE_READ}
    ),
    Role.ANALYST: frozenset(
        {Scope.REPORTS_READ, Scope.EVENTS_READ, Scope.BANKS_READ, Scope.ACCOUNTABILITY_WRITE}
    ),
}

#: Roles that see list values on the pages (hashes in banks, terms in term lists); others see
#: that an entry exists, its kind and counts.
VALUE_ROLES: frozenset[str] = frozenset({Role.ADMIN.value, Role.REVIEWER.value})

#: What a key used by a platform's own servers may be granted. Nothing that exposes
#: reviewers' work, people or the audit trail.
INTEGRATION_SCOPES: frozenset[Scope] = frozenset(
    {
        Scope.SCAN,
        Scope.BANKS_READ,
        Scope.BANKS_WRITE,
        Scope.REPORTS_READ,
        Scope.CASES_SUBMIT,
        Scope.EXCHANGE_READ,
    }
)


def scopes_for_role(role: Role | str) -> frozenset[Scope]:
    """The scopes a person with ``role`` holds; raises ``ValueError`` for an unknown role."""
    return ROLE_SCOPES[Role(role)]


def parse_scopes(values: Iterable[str]) -> frozenset[Scope]:
    """Turn strings into scopes; raises ``ValueError`` naming the first unknown one."""
    out: set[Scope] = set()
    for value in values:
        try:
            out.add(Scope(value))
        except ValueError:
            known = ", ".join(s.value for s in Scope)
            raise ValueError(f"unknown scope {value!r}; known scopes: {known}") from None
    return frozenset(out)


class PrincipalKind(StrEnum):
    USER = "user"
    API_KEY = "apikey"
    SYSTEM = "system"


class Principal:
    """Who is acting: a logged-in person, an API key, or the system (CLI, jobs).

    ``actor`` is the id-only string written into the event log (``user:3``, ``apikey:7``,
    ``system:cli``); it never carries names.
    """

    __slots__ = ("api_key_id", "kind", "name", "role", "scopes", "user_id")

    def __init__(
        self,
        kind: PrincipalKind,
        *,
        name: str,
        scopes: Iterable[Scope],
        user_id: int | None = None,
        api_key_id: int | None = None,
        role: Role | None = None,
    ) -> None:
        self.kind = kind
        self.name = name
        self.scopes = frozenset(scopes)
        self.user_id = user_id
        self.api_key_id = api_key_id
        self.role = role

    @classmethod
    def system(cls, name: str = "cli") -> Principal:
        return cls(PrincipalKind.SYSTEM, name=name, scopes=frozenset(Scope))

    @property
    def actor(self) -> str:
        if self.kind is PrincipalKind.USER:
            return f"user:{self.user_id}"
        if self.kind is PrincipalKind.API_KEY:
            return f"apikey:{self.api_key_id}"
        return f"system:{self.name}"

    def can(self, scope: Scope) -> bool:
        return scope in self.scopes

    def __repr__(self) -> str:
        return f"Principal({self.actor}, scopes={sorted(self.scopes)})"
