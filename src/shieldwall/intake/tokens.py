"""Status tokens for takedown requests: random, shown once, stored as a SHA-256 digest,
compared in constant time.

A token is 32 random bytes (256 bits) from :func:`secrets.token_urlsafe`, so a plain SHA-256
digest is enough to store it: nobody can guess one, and the digest alone does not let anyone
use it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

TOKEN_BYTES = 32
#: Compared against when no request has the id asked for, so an unknown id costs the same
#: work as a wrong token.
_NO_REQUEST = hashlib.sha256(b"no such takedown request").hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def matches(presented: str | None, stored_digest: str | None) -> bool:
    """Whether ``presented`` is the token whose digest is ``stored_digest``; always does one
    constant-time comparison, whether or not there is a token or a stored digest."""
    candidate = digest(presented or "")
    same = hmac.compare_digest(candidate, stored_digest or _NO_REQUEST)
    return same and bool(presented) and stored_digest is not None
