"""The media store: sealed at rest, de-duplicated, checked on read, previews that are safe to
show, retention and purge, key rotation; on SQLite and (in CI) PostgreSQL."""

from __future__ import annotations

import hashlib
import io
import os
import stat
import threading
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import TypeVar

import numpy as np
import pytest
from PIL import Image
from pydantic import SecretStr
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from shieldwall.audit import repository as audit_repository
from shieldwall.audit.service import verify_chain
from shieldwall.config import Settings
from shieldwall.core.errors import InvalidInput, NotFound, PayloadTooLarge
from shieldwall.core.sealing import key_id, new_master_key_text, parse_master_key
from shieldwall.db.base import utcnow
from shieldwall.db.engine import Database
from shieldwall.media import service
from shieldwall.media.models import MediaObject
from shieldwall.media.preview import PREVIEW_SIDE, placeholder
from shieldwall.media.service import MediaUnreadable, media_dir
from tests.conftest import PG_URL, SYSTEM
from tests.media.samples import checkerboard, picture, png, small_video

pytestmark = pytest.mark.db
T = TypeVar("T")


def store(
    db: Database,
    settings: Settings,
    data: bytes,
    media_type: str | None = "image/jpeg",
    **kwargs: object,
) -> MediaObject:
    with db.session() as session:
        return service.store(session, settings, data, media_type=media_type, **kwargs)  # type: ignore[arg-type]


def read(db: Database, settings: Settings, media_id: int) -> bytes:
    with db.session() as session:
        return service.read(session, settings, media_id)


def preview(db: Database, settings: Settings, media_id: int) -> Image.Image:
    with db.session() as session:
        data, media_type = service.preview(session, settings, media_id)
    assert media_type == "image/jpeg"
    image = Image.open(io.BytesIO(data))
    assert image.format == "JPEG"
    return image


def file_of(settings: Settings, obj: MediaObject) -> Path:
    return media_dir(settings) / obj.uuid


def files(settings: Settings) -> list[str]:
    folder = media_dir(settings)
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def with_key(settings: Settings, current: str, *previous: str) -> Settings:
    return settings.model_copy(
        update={
            "master_key": SecretStr(current),
            "previous_master_keys": [SecretStr(k) for k in previous],
        }
    )


def rolled_back(db: Database, work: Callable[[Session], T]) -> T:
    """Run ``work`` in a transaction that is rolled back."""
    session = db.sessionmaker()
    try:
        return work(session)
    finally:
        session.rollback()
        session.close()


def count_rows(db: Database) -> int:
    with db.session() as session:
        return int(session.scalar(select(func.count()).select_from(MediaObject)) or 0)


# ---- store and read ------------------------------------------------------------------------


def test_store_seals_the_bytes_and_read_gives_them_back(db: Database, settings: Settings) -> None:
    data = picture(1)
    before = utcnow()
    obj = store(db, settings, data, media_type="Image/JPEG; charset=binary", purpose="review")
    assert obj.sha256 == hashlib.sha256(data).hexdigest()
    assert obj.size == len(data)
    assert obj.media_type == "image/jpeg"
    assert obj.purpose == "review"
    assert obj.key_id == settings.resolved_keyring().current_id.hex()
    retention = timedelta(days=settings.media_retention_days)
    assert before + retention <= obj.retain_until <= utcnow() + retention
    assert uuid.UUID(obj.uuid)
    assert read(db, settings, obj.id) == data


def test_the_bytes_on_disk_are_not_the_plaintext(db: Database, settings: Settings) -> None:
    data = png(checkerboard())
    obj = store(db, settings, data, media_type="image/png")
    on_disk = file_of(settings, obj).read_bytes()
    assert files(settings) == [obj.uuid]
    assert on_disk != data
    assert len(on_disk) == len(data) + 100  # header + tag, nothing else
    for start in range(0, len(data) - 32, max(1, len(data) // 50)):
        assert data[start : start + 32] not in on_disk
    assert b"PNG" not in on_disk
    assert stat.S_IMODE(file_of(settings, obj).stat().st_mode) == 0o600


def test_the_same_bytes_are_one_object_and_extend_its_retention(
    db: Database, settings: Settings
) -> None:
    data = picture(2)
    first = store(db, settings, data)
    with db.session() as session:
        row = session.get(MediaObject, first.id)
        assert row is not None
        row.retain_until = utcnow() + timedelta(days=1)
    again = store(db, settings, data, media_type=None)
    assert again.id == first.id
    assert again.retain_until > utcnow() + timedelta(days=settings.media_retention_days - 1)
    assert again.media_type == "image/jpeg"  # the first declaration stays
    other = store(db, settings, picture(3))
    assert other.id != first.id
    assert count_rows(db) == 2
    assert files(settings) == sorted([first.uuid, other.uuid])
    with db.session() as session:
        events = audit_repository.list_events(session, kind="media.stored")
        assert [(e.subject, e.payload["reused"]) for e in reversed(events)] == [
            (f"media:{first.id}", False),
            (f"media:{first.id}", True),
            (f"media:{other.id}", False),
        ]
        payload = events[-1].payload
        assert set(payload) == {"media_id", "size", "media_type", "purpose", "reused"}
        assert verify_chain(session).ok


def test_a_store_rolled_back_leaves_no_row_and_its_file_is_an_orphan(
    db: Database, settings: Settings
) -> None:
    rolled_back(db, lambda s: service.store(s, settings, picture(4), media_type="image/jpeg"))
    assert count_rows(db) == 0
    (orphan,) = files(settings)  # written before the row; cleaned by the purge (below)
    old = time.time() - 2 * 3600
    os.utime(media_dir(settings) / orphan, (old, old))
    with db.session() as session:
        assert service.purge_expired(session, settings) == 0
    assert files(settings) == []


@pytest.mark.parametrize(
    ("data", "kwargs", "error", "message"),
    [
        (b"", {}, InvalidInput, "0 bytes"),
        (b"x" * 2048, {}, PayloadTooLarge, "more than the limit of 1,024"),
        (b"abc", {"media_type": "jpeg"}, InvalidInput, "image/jpeg"),
        (b"abc", {"media_type": "image/jpeg\nX: y"}, InvalidInput, "image/jpeg"),
        (b"abc", {"purpose": "Not A Word"}, InvalidInput, "purpose"),
    ],
)
def test_bad_input_writes_nothing(
    db: Database,
    settings: Settings,
    data: bytes,
    kwargs: dict[str, str],
    error: type[Exception],
    message: str,
) -> None:
    limited = settings.model_copy(update={"scan_max_bytes": 1024})
    with pytest.raises(error, match=message):
        store(db, limited, data, **{"media_type": "image/png", **kwargs})
    assert count_rows(db) == 0
    assert files(settings) == []


def test_reading_an_unknown_id_is_not_found(db: Database, settings: Settings) -> None:
    with pytest.raises(NotFound, match="no stored media with id 404"):
        read(db, settings, 404)
    with pytest.raises(NotFound):
        preview(db, settings, 404)


# ---- integrity -----------------------------------------------------------------------------


@pytest.mark.parametrize("where", [0, 10, 50, 90, -20, -1])
def test_tampering_with_the_file_is_detected(db: Database, settings: Settings, where: int) -> None:
    obj = store(db, settings, picture(5))
    path = file_of(settings, obj)
    blob = bytearray(path.read_bytes())
    blob[where] ^= 0x40
    path.write_bytes(bytes(blob))
    with pytest.raises(MediaUnreadable, match=f"media {obj.id} cannot be opened"):
        read(db, settings, obj.id)
    with pytest.raises(MediaUnreadable):
        preview(db, settings, obj.id)


def test_a_file_moved_to_another_object_does_not_open(db: Database, settings: Settings) -> None:
    first, second = store(db, settings, picture(6)), store(db, settings, picture(7))
    file_of(settings, second).write_bytes(file_of(settings, first).read_bytes())
    with pytest.raises(MediaUnreadable, match="tampered or moved"):
        read(db, settings, second.id)
    assert read(db, settings, first.id) == picture(6)


def test_a_row_whose_sha256_disagrees_is_refused(db: Database, settings: Settings) -> None:
    obj = store(db, settings, picture(8))
    with db.session() as session:
        row = session.get(MediaObject, obj.id)
        assert row is not None
        row.sha256 = "0" * 64
    with pytest.raises(MediaUnreadable, match="differs from what was stored"):
        read(db, settings, obj.id)


def test_a_missing_file_is_reported_and_storing_the_bytes_again_restores_it(
    db: Database, settings: Settings
) -> None:
    data = picture(9)
    obj = store(db, settings, data)
    file_of(settings, obj).unlink()
    with pytest.raises(MediaUnreadable, match="has no file"):
        read(db, settings, obj.id)
    assert store(db, settings, data).id == obj.id
    assert read(db, settings, obj.id) == data


def test_a_server_without_the_master_key_cannot_read(db: Database, settings: Settings) -> None:
    obj = store(db, settings, picture(10))
    stranger = with_key(settings, new_master_key_text())
    with pytest.raises(MediaUnreadable, match="which is not configured"):
        read(db, stranger, obj.id)


def test_rotation_old_objects_stay_readable_and_rewrap_moves_them(
    db: Database, settings: Settings
) -> None:
    old_key, new_key = new_master_key_text(), new_master_key_text()
    before = with_key(settings, old_key)
    first = store(db, before, picture(11))
    second = store(db, before, picture(12))
    rotated = with_key(settings, new_key, old_key)
    third = store(db, rotated, picture(13))
    assert third.key_id == key_id(parse_master_key(new_key)).hex()
    assert read(db, rotated, first.id) == picture(11)
    ciphertext_before = file_of(settings, first).read_bytes()[72:]

    with db.session() as session:
        assert service.rewrap_all(session, rotated) == 2
    with db.session() as session:
        keys = set(session.scalars(select(MediaObject.key_id)))
        assert keys == {key_id(parse_master_key(new_key)).hex()}
        event = audit_repository.list_events(session, kind="media.rewrapped")[0]
        assert event.payload == {"count": 2}
    assert file_of(settings, first).read_bytes()[72:] == ciphertext_before  # media untouched
    only_new = with_key(settings, new_key)
    for obj, seed in ((first, 11), (second, 12), (third, 13)):
        assert read(db, only_new, obj.id) == picture(seed)
    with db.session() as session:
        assert service.rewrap_all(session, only_new) == 0


# ---- previews ------------------------------------------------------------------------------


def test_a_preview_is_grayscale_small_and_blurred(db: Database, settings: Settings) -> None:
    obj = store(db, settings, png(checkerboard(512, cell=4)), media_type="image/png")
    image = preview(db, settings, obj.id)
    assert image.mode == "L"
    assert max(image.size) <= PREVIEW_SIDE
    pixels = np.asarray(image, dtype=np.float32)
    # the original alternates 0/255 every 4 px (std 127.5); the preview is a flat grey
    assert pixels.std() < 8
    assert 100 < pixels.mean() < 155


def test_a_preview_keeps_only_coarse_shapes(db: Database, settings: Settings) -> None:
    obj = store(db, settings, picture(14))
    image = preview(db, settings, obj.id)
    assert image.mode == "L"
    assert image.size == (480, 360)
    pixels = np.asarray(image, dtype=np.float32)
    # neighbouring pixels barely differ: no edges survive
    assert np.abs(np.diff(pixels, axis=1)).max() < 24
    assert np.abs(np.diff(pixels, axis=0)).max() < 24


def test_a_video_preview_is_its_first_frame(db: Database, settings: Settings) -> None:
    obj = store(db, settings, small_video(first=(255, 0, 255)), media_type="video/mp4")
    pixels = np.asarray(preview(db, settings, obj.id), dtype=np.float32)
    # magenta in grayscale (ITU-R 601 luma) is about 105
    assert abs(pixels.mean() - 105) < 10


@pytest.mark.parametrize(
    "data",
    [
        b"just some text, not a picture",
        picture(15)[:300],  # cut-off JPEG
        b"\x89PNG\r\n\x1a\n" + b"\x00" * 64,  # a PNG signature and nothing valid after it
        small_video()[:400],  # cut-off MP4
        b"RIFF\x00\x00\x00\x00AVI " + b"\x00" * 100,  # an AVI header with no streams
    ],
)
def test_media_that_cannot_be_decoded_gets_a_placeholder(
    db: Database, settings: Settings, data: bytes
) -> None:
    obj = store(db, settings, data, media_type=None)
    with db.session() as session:
        assert service.preview(session, settings, obj.id) == (placeholder(), "image/jpeg")


def test_a_picture_over_the_pixel_limit_gets_a_placeholder(
    db: Database, settings: Settings
) -> None:
    small_limit = settings.model_copy(update={"max_image_pixels": 100 * 100})
    obj = store(db, settings, picture(16))
    with db.session() as session:
        assert service.preview(session, small_limit, obj.id)[0] == placeholder()
        assert service.preview(session, settings, obj.id)[0] != placeholder()


def test_the_placeholder_is_a_neutral_grey_jpeg() -> None:
    image = Image.open(io.BytesIO(placeholder()))
    assert image.format == "JPEG"
    assert image.mode == "L"
    assert 100 < np.asarray(image).mean() < 140


# ---- retention and purge -------------------------------------------------------------------


def test_purge_deletes_expired_objects_and_their_files_after_commit(
    db: Database, settings: Settings
) -> None:
    keep = store(db, settings, picture(17))
    expired = [store(db, settings, picture(seed)) for seed in (18, 19)]
    with db.session() as session:
        for obj in expired:
            row = session.get(MediaObject, obj.id)
            assert row is not None
            row.retain_until = utcnow() - timedelta(minutes=1)
    with db.session() as session:
        assert service.purge_expired(session, settings) == 2
        # rows are gone in this transaction, files wait for the commit
        assert all(file_of(settings, obj).exists() for obj in expired)
    assert files(settings) == [keep.uuid]
    assert count_rows(db) == 1
    for obj in expired:
        with pytest.raises(NotFound, match="may have expired"):
            read(db, settings, obj.id)
    assert read(db, settings, keep.id) == picture(17)
    with db.session() as session:
        (event,) = audit_repository.list_events(session, kind="media.purged")
        assert event.payload == {
            "count": 2,
            "media_ids": [expired[0].id, expired[1].id],
            "orphan_files": 0,
        }
        assert event.actor == "system:media"


def test_purge_uses_the_given_time(db: Database, settings: Settings) -> None:
    obj = store(db, settings, picture(20))
    with db.session() as session:
        assert service.purge_expired(session, settings, now=utcnow()) == 0
    later = utcnow() + timedelta(days=settings.media_retention_days, minutes=1)
    with db.session() as session:
        assert service.purge_expired(session, settings, now=later) == 1
    assert not file_of(settings, obj).exists()
    with db.session() as session:
        assert service.purge_expired(session, settings, now=later) == 0
        assert len(audit_repository.list_events(session, kind="media.purged")) == 1


def test_a_purge_rolled_back_deletes_no_file(db: Database, settings: Settings) -> None:
    obj = store(db, settings, picture(21))
    later = utcnow() + timedelta(days=settings.media_retention_days + 1)

    assert rolled_back(db, lambda s: service.purge_expired(s, settings, now=later)) == 1
    assert file_of(settings, obj).exists()
    assert read(db, settings, obj.id) == picture(21)
    with db.session() as session:  # the same session object must not carry stale unlinks
        session.execute(text("SELECT 1"))
    assert file_of(settings, obj).exists()


def test_orphan_files_are_removed_only_when_old(db: Database, settings: Settings) -> None:
    kept = store(db, settings, picture(22))
    folder = media_dir(settings)
    old = time.time() - 2 * 3600
    old_orphan, young_orphan = folder / str(uuid.uuid4()), folder / str(uuid.uuid4())
    stale_temp, unrelated = folder / f".{uuid.uuid4()}.123.tmp", folder / "README"
    for path in (old_orphan, young_orphan, stale_temp, unrelated):
        path.write_bytes(b"sealed-looking bytes")
    for path in (old_orphan, stale_temp, unrelated, file_of(settings, kept)):
        os.utime(path, (old, old))
    with db.session() as session:
        assert service.purge_expired(session, settings) == 0
    assert set(files(settings)) == {kept.uuid, young_orphan.name, unrelated.name}
    with db.session() as session:
        (event,) = audit_repository.list_events(session, kind="media.purged")
        assert event.payload["orphan_files"] == 2


def test_a_purge_as_of_a_later_date_still_spares_fresh_orphans(
    db: Database, settings: Settings
) -> None:
    """A file written a moment ago may belong to another process's uncommitted store."""
    media_dir(settings).mkdir(parents=True)
    fresh = media_dir(settings) / str(uuid.uuid4())
    fresh.write_bytes(b"sealed-looking bytes")
    later = utcnow() + timedelta(days=365)
    with db.session() as session:
        service.purge_expired(session, settings, now=later)
    assert fresh.exists()


def test_keep_until_extends_and_never_shortens(db: Database, settings: Settings) -> None:
    obj = store(db, settings, picture(23))
    far = utcnow() + timedelta(days=400)
    with db.session() as session:
        assert service.keep_until(session, obj.id, far, actor=SYSTEM).retain_until == far
        assert service.keep_until(session, obj.id, utcnow()).retain_until == far
        events = audit_repository.list_events(session, kind="media.retention_extended")
        assert len(events) == 1
    later = utcnow() + timedelta(days=settings.media_retention_days + 1)
    with db.session() as session:
        assert service.purge_expired(session, settings, now=later) == 0
    with pytest.raises(NotFound), db.session() as session:
        service.keep_until(session, 999, far)


# ---- concurrency ---------------------------------------------------------------------------


def test_two_processes_storing_the_same_bytes_make_one_object(
    db: Database, settings: Settings
) -> None:
    """Two sessions race to store identical bytes; one object, one file, both get its id."""
    data = picture(24)
    results: list[int] = []
    errors: list[BaseException] = []
    first_stored = threading.Event()
    release_first = threading.Event()

    def first() -> None:
        try:
            with db.session() as session:
                results.append(service.store(session, settings, data, media_type="image/jpeg").id)
                first_stored.set()
                release_first.wait(timeout=30)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
            first_stored.set()

    def second() -> None:
        try:
            with db.session() as session:
                results.append(service.store(session, settings, data, media_type="image/jpeg").id)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    one = threading.Thread(target=first)
    one.start()
    assert first_stored.wait(timeout=30)
    two = threading.Thread(target=second)
    two.start()
    if PG_URL:
        # the second insert waits on the first's unique index entry; let the first commit then
        wait_for_lock_waiter(db)
    release_first.set()
    one.join(timeout=30)
    two.join(timeout=30)
    assert errors == []
    assert len(set(results)) == 1
    assert count_rows(db) == 1
    assert len(files(settings)) == 1
    assert read(db, settings, results[0]) == data


def wait_for_lock_waiter(db: Database) -> None:
    deadline = time.monotonic() + 20
    query = text(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    while time.monotonic() < deadline:
        with db.engine.connect() as conn:
            if conn.execute(query).scalar():
                return
        time.sleep(0.02)
    raise AssertionError("the second store never waited on the first")
