"""Rules for media kept for review. Flushes, never commits.

Bytes are sealed with :mod:`shieldwall.core.sealing` (associated data: the object's uuid)
into ``<data_dir>/media/<uuid>``; the database row holds the SHA-256 of the plaintext, size,
declared media type, the wrapping key's id and ``retain_until``. The file is written (and
synced) before the row, so a crash never leaves a row without a file; files whose row never
committed are removed by :func:`purge_expired` once they are an hour old.

:func:`read` gives the plaintext and is for code (classifiers, hashing, a reviewer's explicit
reveal, which the caller logs as an event). :func:`preview` gives a blurred, grayscale JPEG
that is safe to show by default.
"""

from __future__ import annotations

import hashlib
import importlib
import logging
import re
import uuid as uuidlib
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shieldwall.audit import service as audit
from shieldwall.config import Settings
from shieldwall.core.access import Principal
from shieldwall.core.errors import InvalidInput, NotFound, PayloadTooLarge, ShieldwallError
from shieldwall.core.sealing import SealError, seal, unseal
from shieldwall.db import files
from shieldwall.db.base import as_utc, utcnow
from shieldwall.media import repository
from shieldwall.media.models import MediaObject
from shieldwall.media.preview import blurred_preview

log = logging.getLogger(__name__)

SYSTEM_ACTOR = "system:media"
PURGE_BATCH = 500
_MEDIA_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,63}$")
_PURPOSE = re.compile(r"^[a-z][a-z_]{0,19}$")
_UUID_NAME = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


class MediaUnreadable(ShieldwallError):
    """A stored object exists but its file is missing, was tampered with, or is sealed under a
    master key this server does not hold. Nothing of it is returned."""

    status = 500
    slug = "media-unreadable"
    title = "Stored media cannot be read"


def media_dir(settings: Settings) -> Path:
    return settings.data_dir / "media"


def _path(settings: Settings, object_uuid: str) -> Path:
    return media_dir(settings) / object_uuid


def _aad(object_uuid: str) -> bytes:
    return object_uuid.encode("ascii")


def _media_type(value: str | None) -> str | None:
    if value is None:
        return None
    text = value.split(";", 1)[0].strip().lower()
    if not text:
        return None
    if not _MEDIA_TYPE.fullmatch(text):
        raise InvalidInput("media_type must look like 'image/jpeg'", field="media_type")
    return text


def _seal_to_disk(settings: Settings, object_uuid: str, data: bytes) -> str:
    """Seal ``data`` into the object's file; returns the wrapping key's id (hex)."""
    keyring = settings.resolved_keyring()
    files.write_durably(_path(settings, object_uuid), seal(data, keyring, aad=_aad(object_uuid)))
    return keyring.current_id.hex()


# ---- store and read ------------------------------------------------------------------------


def store(
    session: Session,
    settings: Settings,
    data: bytes,
    *,
    media_type: str | None,
    purpose: str = "review",
    actor: Principal | str = SYSTEM_ACTOR,
    principles: Iterable[int] = (),
) -> MediaObject:
    """Keep ``data`` sealed for ``settings.media_retention_days``; the same bytes (SHA-256)
    give the same object, whose retention is extended. Writes event ``media.stored``.

    Raises :class:`InvalidInput` for empty data or a malformed media type and
    :class:`PayloadTooLarge` above ``scan_max_bytes``.
    """
    if not data:
        raise InvalidInput("there is no media to store (0 bytes)")
    if len(data) > settings.scan_max_bytes:
        raise PayloadTooLarge(
            f"the media is {len(data):,} bytes, more than the limit of "
            f"{settings.scan_max_bytes:,} (scan_max_bytes)"
        )
    clean_type = _media_type(media_type)
    if not _PURPOSE.fullmatch(purpose):
        raise InvalidInput("purpose must be a short lower-case word, e.g. 'review'")
    digest = hashlib.sha256(data).hexdigest()
    retain_until = utcnow() + timedelta(days=settings.media_retention_days)

    existing = repository.by_sha256(session, digest, lock=True)
    if existing is None:
        object_uuid = str(uuidlib.uuid4())
        key = _seal_to_disk(settings, object_uuid, data)
        created = MediaObject(
            uuid=object_uuid,
            sha256=digest,
            size=len(data),
            media_type=clean_type,
            purpose=purpose,
            key_id=key,
            retain_until=retain_until,
        )
        try:
            with session.begin_nested():
                session.add(created)
                session.flush()
        except IntegrityError:
            # Another transaction stored the same bytes first (PostgreSQL; SQLite serialises
            # writers). Ours was never committed: drop its file and use theirs.
            _path(settings, object_uuid).unlink(missing_ok=True)
            existing = repository.by_sha256(session, digest, lock=True)
            if existing is None:
                raise
        else:
            _event(session, "media.stored", created, actor, principles, reused=False)
            return created

    if existing.retain_until < retain_until:
        existing.retain_until = retain_until
    if not _path(settings, existing.uuid).exists():
        # The file went missing (restored backup, manual deletion): the caller has the bytes.
        existing.key_id = _seal_to_disk(settings, existing.uuid, data)
        log.warning("media.file_restored", extra={"media_id": existing.id})
    session.flush()
    _event(session, "media.stored", existing, actor, principles, reused=True)
    return existing


def _event(
    session: Session,
    kind: str,
    obj: MediaObject,
    actor: Principal | str,
    principles: Iterable[int],
    **extra: Any,
) -> None:
    audit.record(
        session,
        kind,
        actor=actor,
        subject=f"media:{obj.id}",
        principles=principles,
        payload={
            "media_id": obj.id,
            "size": obj.size,
            "media_type": obj.media_type,
            "purpose": obj.purpose,
            **extra,
        },
    )


def get(session: Session, media_id: int) -> MediaObject:
    obj = repository.get(session, media_id)
    if obj is None:
        raise NotFound(
            f"no stored media with id {media_id} (it may have expired)", media_id=media_id
        )
    return obj


def read(session: Session, settings: Settings, media_id: int) -> bytes:
    """The plaintext of a stored object, checked against its SHA-256.

    Raises :class:`NotFound` (no such object, e.g. purged) or :class:`MediaUnreadable` (file
    missing, tampered, moved, or sealed under a key that is not configured).
    """
    obj = get(session, media_id)
    path = _path(settings, obj.uuid)
    try:
        blob = path.read_bytes()
    except FileNotFoundError:
        log.error("media.file_missing", extra={"media_id": obj.id})
        raise MediaUnreadable(
            f"media {obj.id} has no file under {media_dir(settings)}; was the data folder "
            "restored without it, or is it not shared between servers?",
            media_id=obj.id,
        ) from None
    try:
        data = unseal(blob, settings.resolved_keyring(), aad=_aad(obj.uuid))
    except SealError as exc:
        log.error("media.unseal_failed", extra={"media_id": obj.id})
        raise MediaUnreadable(f"media {obj.id} cannot be opened: {exc}", media_id=obj.id) from None
    if hashlib.sha256(data).hexdigest() != obj.sha256:
        log.error("media.digest_mismatch", extra={"media_id": obj.id})
        raise MediaUnreadable(
            f"media {obj.id} opened but its content differs from what was stored",
            media_id=obj.id,
        )
    return data


def preview(session: Session, settings: Settings, media_id: int) -> tuple[bytes, str]:
    """A blurred grayscale JPEG of the media (a video's first frame) and its media type.

    Safe to show by default: it keeps only a coarse impression of shapes. Media that cannot
    be decoded gives a neutral placeholder picture, never an error; a missing or unreadable
    object raises as :func:`read` does.
    """
    return blurred_preview(read(session, settings, media_id), max_pixels=settings.max_image_pixels)


def keep_until(
    session: Session,
    media_id: int,
    until: datetime,
    *,
    actor: Principal | str = SYSTEM_ACTOR,
    principles: Iterable[int] = (),
) -> MediaObject:
    """Extend an object's retention to at least ``until`` (e.g. while a case is open or
    evidence must be kept); never shortens it. Writes ``media.retention_extended``."""
    obj = get(session, media_id)
    wanted = as_utc(until)
    assert wanted is not None
    if obj.retain_until < wanted:
        obj.retain_until = wanted
        session.flush()
        _event(session, "media.retention_extended", obj, actor, principles)
    return obj


# ---- purge and orphans -----------------------------------------------------------------------


#: Modules that register retainers (imported by name, so this layer does not import the
#: domains above it): each keeps the media its open work still needs.
RETAINER_MODULES: tuple[str, ...] = ("shieldwall.cases.retention",)
Retainer = Callable[[Session], Iterable[int]]
_retainers: list[Retainer] = []


def register_retainer(retainer: Retainer) -> None:
    """``retainer(session)`` names media ids that :func:`purge_expired` must keep even past
    their retention date (e.g. media of a case that is still open)."""
    if retainer not in _retainers:
        _retainers.append(retainer)


def retained_ids(session: Session) -> set[int]:
    for name in RETAINER_MODULES:
        importlib.import_module(name)
    kept: set[int] = set()
    for retainer in _retainers:
        kept.update(retainer(session))
    return kept


def purge_expired(session: Session, settings: Settings, now: datetime | None = None) -> int:
    """Delete every object past ``retain_until``; returns how many. Writes ``media.purged``.

    Media a registered retainer still needs (an open case's) is kept until it is not.

    Rows are deleted in the caller's transaction; their files are removed once it commits
    (nothing is removed if it rolls back). Files without a row that are older than an hour
    (a store whose transaction never committed, a crash before an unlink) are removed too.
    """
    now = as_utc(now) or utcnow()
    kept = retained_ids(session)
    removed_ids: list[int] = []
    doomed: list[str] = []
    after_id = 0
    while True:
        batch = repository.expired(session, now, limit=PURGE_BATCH, after_id=after_id)
        if not batch:
            break
        after_id = batch[-1].id
        gone = [obj for obj in batch if obj.id not in kept]
        if gone:
            repository.delete_ids(session, [obj.id for obj in gone])
        for obj in gone:
            session.expunge(obj)
        removed_ids.extend(obj.id for obj in gone)
        doomed.extend(obj.uuid for obj in gone)
        if len(batch) < PURGE_BATCH:
            break
    session.flush()
    files.unlink_after_commit(session, (_path(settings, u) for u in doomed))
    orphans = _remove_orphans(session, settings)
    if removed_ids or orphans:
        audit.record(
            session,
            "media.purged",
            actor=SYSTEM_ACTOR,
            subject="media",
            payload={
                "count": len(removed_ids),
                "media_ids": removed_ids[:1000],
                "orphan_files": orphans,
            },
        )
    log.info("media.purged", extra={"count": len(removed_ids), "orphan_files": orphans})
    return len(removed_ids)


def _remove_orphans(session: Session, settings: Settings) -> int:
    return files.remove_orphans(
        session,
        media_dir(settings),
        is_row_file=lambda name: bool(_UUID_NAME.fullmatch(name)),
        known=repository.known_uuids,
    )


# ---- key rotation ------------------------------------------------------------------------


def objects_by_key(session: Session) -> dict[str, int]:
    """How many objects each master key (by id, hex) wraps: a rotation is finished when only
    the current key is left."""
    return repository.count_by_key(session)


def rewrap_all(session: Session, settings: Settings, *, limit: int | None = None) -> int:
    """Re-wrap objects sealed under older master keys with the current one (after a
    rotation); returns how many were re-wrapped. The media ciphertext is not touched; each
    file is replaced atomically. Writes ``media.rewrapped`` with the count."""
    from shieldwall.core.sealing import rewrap

    keyring = settings.resolved_keyring()
    current = keyring.current_id.hex()
    done = 0
    after = 0
    while limit is None or done < limit:
        batch = repository.not_under_key(session, current, after_id=after, limit=PURGE_BATCH)
        if not batch:
            break
        for obj in batch:
            after = obj.id
            if limit is not None and done >= limit:
                break
            path = _path(settings, obj.uuid)
            try:
                blob = path.read_bytes()
                files.write_durably(path, rewrap(blob, keyring, aad=_aad(obj.uuid)))
            except (OSError, SealError) as exc:
                raise MediaUnreadable(
                    f"media {obj.id} cannot be re-wrapped: {exc}", media_id=obj.id
                ) from None
            obj.key_id = current
            done += 1
    session.flush()
    if done:
        audit.record(
            session, "media.rewrapped", actor=SYSTEM_ACTOR, subject="media", payload={"count": done}
        )
    return done
