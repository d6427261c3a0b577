"""Comparing a secret token someone sent with the one expected."""

from __future__ import annotations

import hmac


def same_token(expected: str, given: object) -> bool:
    """Whether ``given`` is the token ``expected``, compared in constant time.

    Tokens, digests and signatures are ASCII text. Anything else (an upload, a number,
    non-ASCII text, for which ``hmac.compare_digest`` raises TypeError) is simply a wrong
    token, never an error."""
    return isinstance(given, str) and given.isascii() and hmac.compare_digest(expected, given)
