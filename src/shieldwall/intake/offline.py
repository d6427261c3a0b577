"""Hashing on the survivor's own device, for a takedown request. No network, no database.

:func:`hash_for_request` hashes one file with :mod:`shieldwall.core.hashing` (MD5, SHA-256,
and PDQ for a picture or vPDQ for a video); :func:`build_requests` turns the results into
request bodies that ``POST /v1/takedown-requests`` accepts as they are (checked here against
the same schema). Nothing in this module opens a socket or a database: ``shieldwall survivor
hash`` uses only this.

File names never go into a request: a name can say who is in a picture.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shieldwall.core.errors import InvalidInput
from shieldwall.core.hashing import HashOptions, MediaError, MediaErrorReason, hash_file
from shieldwall.core.signals import PDQ_QUALITY_FLOOR, MediaKind, SignalType
from shieldwall.core.taxonomy import ReportCategory
from shieldwall.intake.schemas import TakedownRequestIn

#: The server's default ``takedown_max_hashes``; requests with more hashes are split.
DEFAULT_MAX_HASHES = 100
#: PDQ variants worth sending besides the primary: the other EXIF orientation of a phone
#: photo, which a platform may store after re-encoding.
_EXTRA_VARIANTS = ("exif_oriented", "exif_stored")


@dataclass
class PdqOut:
    hex: str
    quality: int
    variant: str
    usable: bool


@dataclass
class FileHashes:
    """Everything hashed from one file, and what a person should know about it."""

    path: Path
    kind: str
    md5: str
    sha256: str
    pdq: list[PdqOut] = field(default_factory=list)
    vpdq: str | None = None
    notes: list[str] = field(default_factory=list)

    def signals(self) -> list[dict[str, Any]]:
        """The hashes to send, as request items (low-quality PDQs left out)."""
        items: list[dict[str, Any]] = [
            {"signal_type": SignalType.MD5.value, "value": self.md5},
            {"signal_type": SignalType.SHA256.value, "value": self.sha256},
        ]
        if self.kind == MediaKind.VIDEO:
            items.append({"signal_type": SignalType.VIDEO_MD5.value, "value": self.md5})
        for pdq in self.pdq:
            if pdq.usable:
                items.append(
                    {"signal_type": SignalType.PDQ.value, "value": pdq.hex, "quality": pdq.quality}
                )
        if self.vpdq is not None:
            items.append({"signal_type": SignalType.VPDQ.value, "value": self.vpdq})
        return items


def _stream_exact(path: Path) -> tuple[str, str]:
    """MD5 and SHA-256 of a file read in pieces (when the media hasher stopped before them)."""
    md5 = hashlib.md5(usedforsecurity=False)
    sha256 = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(1024 * 1024):
            md5.update(chunk)
            sha256.update(chunk)
    return md5.hexdigest(), sha256.hexdigest()


def hash_for_request(
    path: Path, *, options: HashOptions | None = None, quality_floor: int = PDQ_QUALITY_FLOOR
) -> FileHashes:
    """Hash one file. A picture or video that cannot be decoded still gets its exact hashes
    (with a note saying why there is no PDQ/vPDQ). :class:`InvalidInput` when the file cannot
    be read at all (missing, a folder, no permission, empty)."""
    if not path.exists():
        raise InvalidInput(f"{path}: there is no such file")
    if path.is_dir():
        raise InvalidInput(f"{path}: this is a folder; name the files inside it")
    opts = options or HashOptions(quality_floor=quality_floor)
    try:
        media = hash_file(path, options=opts)
    except MediaError as exc:
        if exc.reason is MediaErrorReason.EMPTY:
            raise InvalidInput(f"{path}: the file is empty") from None
        try:
            if exc.exact is not None:
                md5, sha256 = exc.exact.md5, exc.exact.sha256
            else:
                md5, sha256 = _stream_exact(path)
        except OSError as os_exc:
            raise InvalidInput(f"{path}: cannot read it ({os_exc.strerror or os_exc})") from None
        return FileHashes(
            path=path,
            kind="exact hashes only",
            md5=md5,
            sha256=sha256,
            notes=[f"no picture hash: {exc.message}; the exact hashes below still work"],
        )
    except InvalidInput as exc:  # unreadable: permission, vanished...
        raise InvalidInput(f"{path}: {exc.message}") from None
    result = FileHashes(path=path, kind=str(media.kind), md5=media.md5, sha256=media.sha256)
    for variant in media.pdq:
        if variant.variant != "original" and variant.variant not in _EXTRA_VARIANTS:
            continue
        usable = not variant.is_low_quality(quality_floor)
        result.pdq.append(PdqOut(variant.hex, variant.quality, variant.variant, usable))
        if not usable and variant.variant == "original":
            result.notes.append(
                f"the picture hash has low quality ({variant.quality} < {quality_floor}), so "
                "it is left out of the request (it could match unrelated pictures); the exact "
                "hashes are sent"
            )
    if media.vpdq is not None:
        result.vpdq = media.vpdq
        if media.truncated:
            result.notes.append("the video ends early (damaged file); the frames read are hashed")
    if media.kind is MediaKind.OTHER:
        result.notes.append(
            "not a picture or video shieldwall can read: exact hashes only (they match only "
            "an identical copy of the file)"
        )
    return result


def build_requests(
    files: Sequence[FileHashes],
    *,
    max_hashes: int = DEFAULT_MAX_HASHES,
    category: ReportCategory | None = None,
    on_behalf: bool = False,
    contact: str | None = None,
    message: str | None = None,
) -> list[dict[str, Any]]:
    """Request bodies for ``POST /v1/takedown-requests``: one, or several when the hashes do
    not fit ``max_hashes`` (a file's hashes always stay together). Each body is checked
    against the API's schema before it is returned."""
    groups: list[list[dict[str, Any]]] = [[]]
    seen: set[tuple[str, str]] = set()
    for item in files:
        signals = [s for s in item.signals() if (s["signal_type"], s["value"]) not in seen]
        if not signals:
            continue
        if len(signals) > max_hashes:
            raise InvalidInput(
                f"{item.path}: {len(signals)} hashes do not fit in one request of "
                f"{max_hashes}; raise --max-hashes"
            )
        if len(groups[-1]) + len(signals) > max_hashes:
            groups.append([])
        groups[-1].extend(signals)
        seen.update((s["signal_type"], s["value"]) for s in signals)
    bodies: list[dict[str, Any]] = []
    for hashes in groups:
        if not hashes:
            continue
        body: dict[str, Any] = {"hashes": hashes, "on_behalf": on_behalf}
        if category is not None:
            body["category"] = category.value
        if contact:
            body["contact"] = contact
        if message:
            body["message"] = message
        TakedownRequestIn.model_validate(body)  # exactly what the server will accept
        bodies.append(body)
    return bodies
