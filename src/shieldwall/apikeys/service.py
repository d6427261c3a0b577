"""API keys: ``sw_<prefix>_<secret>``.

The prefix is public (it names the key in lists and logs); the whole key is shown once and
stored only as its SHA-256, which is safe for 256-bit random secrets. Flushes, never commits.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from sqlalchemy.orm import Session

from shieldwall.apikeys import repository
from shieldwall.apikeys.models import ApiKey
from shieldwall.apikeys.schemas import ApiKeyCreate, KeyKind
from shieldwall.audit import service as audit
from shieldwall.core.access import (
    INTEGRATION_SCOPES,
    Principal,
    PrincipalKind,
    Role,
    Scope,
    scopes_for_role,
)
from shieldwall.core.errors import (
    AuthenticationRequired,
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
)
from shieldwall.db.base import as_utc, utcnow
from shieldwall.users import repository as users_repository

KEY_PREFIX = "sw"
_PREFIX_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"
_PREFIX_LENGTH = 10


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _new_prefix() -> str:
    return "".join(secrets.choice(_PREFIX_ALPHABET) for _ in range(_PREFIX_LENGTH))


def create_key(session: Session, data: ApiKeyCreate, *, actor: Principal) -> tuple[ApiKey, str]:
    """Create a key; returns it with the plain key, which is never retrievable again."""
    owner_id = data.owner_id if data.owner_id is not None else actor.user_id
    if owner_id is None:
        raise InvalidInput("owner_id is required when no person is acting", field="owner_id")
    owner = users_repository.get_user(session, owner_id)
    if owner is None:
        raise NotFound(f"no user with id {owner_id}", field="owner_id")
    if not owner.is_active:
        raise Conflict(f"user {owner_id} is deactivated; activate them first", field="owner_id")
    scopes = frozenset(data.scopes)
    beyond = scopes - actor.scopes
    if beyond:
        # A narrow key that leaks must not be able to mint a wider one.
        raise PermissionDenied(
            f"{actor.actor} cannot grant scopes it does not hold: {', '.join(sorted(beyond))}",
            field="scopes",
        )
    if data.kind is KeyKind.INTEGRATION:
        allowed = INTEGRATION_SCOPES
        why = "integration keys may hold only"
    else:
        allowed = scopes_for_role(Role(owner.role))
        why = f"a personal key of a {owner.role} may hold only"
    extra = scopes - allowed
    if extra:
        raise InvalidInput(
            f"{why} {', '.join(sorted(allowed))}; not {', '.join(sorted(extra))}",
            field="scopes",
        )
    expires_at = as_utc(data.expires_at)  # a naive time is taken as UTC, as the API documents
    if expires_at is not None and expires_at <= utcnow():
        raise InvalidInput("expires_at must be in the future", field="expires_at")

    prefix = _new_prefix()
    while repository.get_by_prefix(session, prefix) is not None:  # pragma: no cover - 50 bits
        prefix = _new_prefix()
    plain = f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey(
        name=data.name.strip(),
        prefix=prefix,
        secret_hash=_hash(plain),
        kind=data.kind.value,
        scopes=sorted(s.value for s in scopes),
        owner_id=owner.id,
        expires_at=expires_at,
    )
    session.add(key)
    session.flush()
    audit.record(
        session,
        "apikey.created",
        actor=actor,
        subject=f"apikey:{key.id}",
        payload={"kind": key.kind, "scopes": key.scopes, "owner": f"user:{owner.id}"},
    )
    return key, plain


def revoke_key(session: Session, key_id: int, *, actor: Principal) -> ApiKey:
    key = repository.get(session, key_id)
    if key is None:
        raise NotFound(f"no API key with id {key_id}", key_id=key_id)
    if key.revoked_at is not None:
        raise Conflict(f"API key {key_id} ({key.prefix}) is already revoked", key_id=key_id)
    key.revoked_at = utcnow()
    key.revoked_by_id = actor.user_id
    session.flush()
    audit.record(session, "apikey.revoked", actor=actor, subject=f"apikey:{key.id}")
    return key


def authenticate(session: Session, presented: str, *, touch_seconds: int = 60) -> Principal:
    """The principal a presented key stands for, or :class:`AuthenticationRequired`."""
    parts = presented.strip().split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX or len(parts[1]) != _PREFIX_LENGTH:
        raise AuthenticationRequired("malformed API key; keys look like sw_<prefix>_<secret>")
    key = repository.get_by_prefix(session, parts[1])
    # Compare even when the prefix is unknown, so timing does not reveal valid prefixes.
    expected = key.secret_hash if key is not None else _hash("")
    if not hmac.compare_digest(expected, _hash(presented.strip())) or key is None:
        raise AuthenticationRequired("invalid API key")
    now = utcnow()
    if key.revoked_at is not None:
        raise AuthenticationRequired(
            f"API key {key.prefix} was revoked; ask an admin for a new one"
        )
    if key.expires_at is not None and key.expires_at <= now:
        raise AuthenticationRequired(
            f"API key {key.prefix} expired at {key.expires_at.isoformat()}"
        )
    owner = users_repository.get_user(session, key.owner_id)
    if owner is None:
        raise AuthenticationRequired(f"API key {key.prefix} has no owner")
    granted = frozenset(Scope(s) for s in key.scopes if s in Scope._value2member_map_)
    if key.kind == KeyKind.PERSONAL:
        if not owner.is_active:
            raise AuthenticationRequired(f"the owner of API key {key.prefix} is deactivated")
        granted &= scopes_for_role(Role(owner.role))
        role: Role | None = Role(owner.role)
    else:
        granted &= INTEGRATION_SCOPES
        role = None
    if key.last_used_at is None or now - key.last_used_at >= timedelta(seconds=touch_seconds):
        key.last_used_at = now
        session.flush()
    return Principal(
        PrincipalKind.API_KEY,
        name=key.name,
        api_key_id=key.id,
        user_id=owner.id if key.kind == KeyKind.PERSONAL else None,
        role=role,
        scopes=granted,
    )
