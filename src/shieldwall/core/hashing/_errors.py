"""Media errors: why a file could not be hashed, as a reason code a program can act on."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any

from shieldwall.core.errors import InvalidInput, PayloadTooLarge

if TYPE_CHECKING:
    from shieldwall.core.hashing._exact import ExactHashes


class MediaErrorReason(StrEnum):
    EMPTY = "empty"
    TOO_LARGE = "too_large"
    TOO_MANY_PIXELS = "too_many_pixels"
    TOO_LONG = "too_long"
    TOO_SMALL = "too_small"
    UNIFORM = "uniform"
    TRUNCATED = "truncated"
    CORRUPT = "corrupt"
    UNSUPPORTED_FORMAT = "unsupported_format"
    TYPE_MISMATCH = "type_mismatch"
    NO_FRAMES = "no_frames"


class MediaError(InvalidInput):
    """A file that cannot be (perceptually) hashed.

    ``reason`` (also in ``context["reason"]``) is a :class:`MediaErrorReason`. ``exact`` holds
    the file's MD5/SHA-1/SHA-256 when they were computed before the failure, so a caller can
    still match the bytes exactly; it is deliberately not part of ``context`` (which the API
    echoes back) so hashes never land in error bodies or logs.
    """

    def __init__(
        self,
        reason: MediaErrorReason,
        message: str,
        *,
        exact: ExactHashes | None = None,
        **context: Any,
    ) -> None:
        super().__init__(message, reason=str(reason), **context)
        self.reason = reason
        self.exact = exact


class MediaTooLarge(MediaError, PayloadTooLarge):
    """The file is larger than ``HashOptions.max_bytes`` (answered as 413)."""


def media_error(
    reason: MediaErrorReason, message: str, *, exact: ExactHashes | None = None, **context: Any
) -> MediaError:
    """The right :class:`MediaError` subclass for ``reason``."""
    cls = MediaTooLarge if reason is MediaErrorReason.TOO_LARGE else MediaError
    return cls(reason, message, exact=exact, **context)
