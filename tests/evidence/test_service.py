"""The evidence vault: sealed at rest, checked on read, tampering and wrong keys detected,
every read an event, retention, legal hold, purge (also interrupted), key rotation and
the decision hook; on SQLite and (with SHIELDWALL_TEST_DATABASE_URL) PostgreSQL."""

from __future__ import annotations

import hashlib
import os
import time
from datetime import timedelta

import pytest
from pydantic import SecretStr
from sqlalchemy import func, select, update

from shieldwall.audit import repository as audit_repository
from shieldwall.audit.service import verify_chain
from shieldwall.config import Settings
from shieldwall.core.access import Principal
from shieldwall.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from shieldwall.core.sealing import key_id, new_master_key_text, parse_master_key
from shieldwall.db.base import utcnow
from shieldwall.db.engine import Database
from shieldwall.evidence import service
from shieldwall.evidence.models import EvidenceItem
from shieldwall.evidence.service import EvidenceUnreadable, NoFileHeld
from shieldwall.media import service as media
from shieldwall.users import service as users
from shieldwall.users.models import User
from tests.conftest import SYSTEM
from tests.evidence.conftest import MakeCase, decide_violating, file_of, preserve
from tests.media.samples import picture

pytestmark = pytest.mark.db


def who(user: User) -> Principal:
    return users.principal_for(user)


def with_key(settings: Settings, current: str, *previous: str) -> Settings:
    return settings.model_copy(
        update={
            "master_key": SecretStr(current),
            "previous_master_keys": [SecretStr(k) for k in previous],
        }
    )


def events(db: Database, kind: str) -> list:  # type: ignore[type-arg]
    with db.session() as s:
        return list(reversed(audit_repository.list_events(s, kind=kind, limit=1000)))


def items(db: Database) -> int:
    with db.session() as s:
        return int(s.scalar(select(func.count()).select_from(EvidenceItem)) or 0)


# ---- sealed at rest, read back -------------------------------------------------------------


def test_content_is_sealed_on_disk_and_read_back_exactly_with_an_event(
    db: Database, settings: Settings, make_case: MakeCase, rita: User
) -> None:
    case, media_id = make_case(1)
    item = preserve(db, settings, case.id, media_id, data={"destination": "ncmec"})
    original = picture(1)

    on_disk = file_of(settings, item).read_bytes()
    assert on_disk != original
    assert original[64:128] not in on_disk  # no stretch of the plaintext is on disk
    assert oct(file_of(settings, item).stat().st_mode & 0o777) == "0o600"
    assert item.content_sha256 == hashlib.sha256(original).hexdigest()
    assert item.file_state == "held"
    # the report data is sealed too: the row never holds it in clear
    assert b"ncmec" not in item.data_sealed

    with db.session() as s:
        assert service.read_bytes(s, settings, item.id, actor=who(rita)) == original
        document = service.read_data(s, settings, item.id, actor=who(rita))
    assert document["case"]["id"] == case.id
    assert document["entries"][0]["data"] == {"destination": "ncmec"}
    reads = events(db, "evidence.read")
    assert [(e.actor, e.payload["part"]) for e in reads] == [
        (f"user:{rita.id}", "content"),
        (f"user:{rita.id}", "data"),
    ]
    assert all(e.subject == f"evidence:{item.id}" for e in reads)
    (stored,) = events(db, "evidence.preserved")
    assert stored.payload == {
        "evidence_id": item.id,
        "case_id": case.id,
        "media_id": media_id,
        "report_id": None,
        "file_held": True,
    }
    with db.session() as s:
        assert verify_chain(s).ok


def test_preserve_is_idempotent_and_a_later_report_extends_retention(
    db: Database, settings: Settings, make_case: MakeCase
) -> None:
    case, media_id = make_case(2)
    first = preserve(db, settings, case.id, media_id, data={"trigger": "decision"})
    assert first.report_id is None
    later = utcnow() + timedelta(days=30)
    with db.session() as s:
        (item,) = service.attach_report(s, settings, case.id, 77, later)
        assert item.id == first.id
        assert item.report_id == 77
        assert item.retain_until == later + timedelta(days=365)
    again = preserve(db, settings, case.id, media_id, data={"destination": "iwf"}, report_id=78)
    assert again.id == first.id
    assert again.report_id == 77  # the first report is kept
    assert again.retain_until == later + timedelta(days=365)  # never shortened
    assert items(db) == 1
    with db.session() as s:
        document = service.read_data(s, settings, first.id, actor=SYSTEM)
    assert [e["data"] for e in document["entries"]] == [
        {"trigger": "decision"},
        {"destination": "iwf"},
    ]
    # the same data again changes nothing
    preserve(db, settings, case.id, media_id, data={"destination": "iwf"}, report_id=78)
    with db.session() as s:
        assert len(service.read_data(s, settings, first.id, actor=SYSTEM)["entries"]) == 2
    assert [e.payload["report_id"] for e in events(db, "evidence.report_attached")] == [77]


def test_retention_follows_the_setting(
    db: Database, settings: Settings, make_case: MakeCase
) -> None:
    case, media_id = make_case(3)
    before = utcnow()
    item = preserve(
        db, settings.model_copy(update={"evidence_retention_days": 30}), case.id, media_id
    )
    assert before + timedelta(days=30) <= item.retain_until <= utcnow() + timedelta(days=30)


def test_hash_only_case_keeps_the_data_and_says_no_file_is_held(
    db: Database, settings: Settings, make_case: MakeCase, rita: User
) -> None:
    case, _ = make_case(4, with_media=False)
    item = preserve(db, settings, case.id, None, data={"hashes_only": True})
    assert item.file_state == "not_held"
    assert item.no_file_reason == "hash_only"
    assert not service.evidence_dir(settings).exists() or not any(
        service.evidence_dir(settings).iterdir()
    )
    with db.session() as s:
        with pytest.raises(NoFileHeld, match="hashes only"):
            service.read_bytes(s, settings, item.id, actor=who(rita))
        (out,) = service.describe(s, [service.get(s, item.id)])
        assert out.file_held is False
        assert out.no_file_text is not None
        assert "No file held" in out.no_file_text
        assert service.read_data(s, settings, item.id, actor=who(rita))["entries"]


def test_media_already_purged_gives_an_item_without_a_file(
    db: Database, settings: Settings, make_case: MakeCase
) -> None:
    # media no open case holds (an open case keeps its media past retention)
    case, _ = make_case(5, with_media=False)
    with db.session() as s:
        media_id = media.store(s, settings, picture(5), media_type="image/png").id
    with db.session() as s:
        assert media.purge_expired(s, settings, now=utcnow() + timedelta(days=400)) == 1
    item = preserve(db, settings, case.id, media_id)
    assert (item.file_state, item.no_file_reason) == ("not_held", "media_expired")


def test_a_file_missing_at_first_is_filled_in_by_a_later_preserve(
    db: Database, settings: Settings, make_case: MakeCase
) -> None:
    case, media_id = make_case(33)
    assert media_id is not None
    with db.session() as s:
        media_file = media.media_dir(settings) / media.get(s, media_id).uuid
    aside = media_file.with_name("aside")
    media_file.rename(aside)
    first = preserve(db, settings, case.id, media_id)
    assert (first.file_state, first.no_file_reason) == ("not_held", "media_unreadable")
    aside.rename(media_file)
    again = preserve(db, settings, case.id, media_id, report_id=9)
    assert again.id == first.id
    assert (again.file_state, again.no_file_reason) == ("held", None)
    with db.session() as s:
        assert service.read_bytes(s, settings, again.id, actor=SYSTEM) == picture(33)
    assert "file" in events(db, "evidence.updated")[-1].payload["changed"]


def test_bad_input_is_refused_without_writing(
    db: Database, settings: Settings, make_case: MakeCase
) -> None:
    case, media_id = make_case(6)
    with pytest.raises(NotFound):
        preserve(db, settings, 9999, None)
    with pytest.raises(InvalidInput):
        preserve(db, settings, case.id, media_id, data={"blob": "x" * 1_100_000})
    assert items(db) == 0


# ---- access --------------------------------------------------------------------------------


def test_only_holders_of_evidence_read_may_read_and_refusals_write_nothing(
    db: Database, settings: Settings, make_case: MakeCase, ann: User, boss: User
) -> None:
    case, media_id = make_case(7)
    item = preserve(db, settings, case.id, media_id)
    with db.session() as s:
        with pytest.raises(PermissionDenied):
            service.read_bytes(s, settings, item.id, actor=who(ann))
        with pytest.raises(PermissionDenied):
            service.read_data(s, settings, item.id, actor=who(ann))
        with pytest.raises(PermissionDenied):
            service.read_bytes(s, settings, item.id, actor="apikey:3")
    assert events(db, "evidence.read") == []
    with db.session() as s:
        assert service.read_bytes(s, settings, item.id, actor=who(boss)) == picture(7)
    assert [e.actor for e in events(db, "evidence.read")] == [f"user:{boss.id}"]


# ---- tampering, wrong keys, rotation -------------------------------------------------------


def test_tampering_is_detected_and_verify_names_the_item(
    db: Database, settings: Settings, make_case: MakeCase
) -> None:
    good_case, good_media = make_case(8)
    good = preserve(db, settings, good_case.id, good_media)
    bad_case, bad_media = make_case(9)
    bad = preserve(db, settings, bad_case.id, bad_media)
    data_case, _ = make_case(10, with_media=False)
    bad_data = preserve(db, settings, data_case.id, None)
    with db.session() as s:
        assert service.verify(s, settings).ok

    path = file_of(settings, bad)
    blob = bytearray(path.read_bytes())
    blob[-5] ^= 0x01
    path.write_bytes(bytes(blob))
    with db.session() as s:
        sealed = bytearray(s.get(EvidenceItem, bad_data.id).data_sealed)  # type: ignore[union-attr]
        sealed[-3] ^= 0x80
        s.execute(
            update(EvidenceItem)
            .where(EvidenceItem.id == bad_data.id)
            .values(data_sealed=bytes(sealed))
        )

    with db.session() as s:
        with pytest.raises(EvidenceUnreadable, match="does not authenticate"):
            service.read_bytes(s, settings, bad.id, actor=SYSTEM)
        result = service.verify(s, settings)
    assert result.checked == 3
    assert {(f.evidence_id, f.part) for f in result.failures} == {
        (bad.id, "content"),
        (bad_data.id, "data"),
    }
    (event,) = events(db, "evidence.verified")[-1:]
    assert event.payload["failed_ids"] == sorted([bad.id, bad_data.id])
    with db.session() as s:
        assert service.read_bytes(s, settings, good.id, actor=SYSTEM) == picture(8)

    # a file that went missing is named too
    file_of(settings, good).unlink()
    with db.session() as s:
        failures = service.verify(s, settings).failures
    assert (good.id, "content") in {(f.evidence_id, f.part) for f in failures}


def test_a_recorded_digest_that_does_not_match_is_detected(
    db: Database, settings: Settings, make_case: MakeCase
) -> None:
    case, media_id = make_case(11)
    item = preserve(db, settings, case.id, media_id)
    with db.session() as s:
        s.execute(
            update(EvidenceItem).where(EvidenceItem.id == item.id).values(content_sha256="0" * 64)
        )
    with db.session() as s:
        with pytest.raises(EvidenceUnreadable, match="differs"):
            service.read_bytes(s, settings, item.id, actor=SYSTEM)
        assert [f.evidence_id for f in service.verify(s, settings).failures] == [item.id]


def test_a_file_moved_to_another_item_does_not_open(
    db: Database, settings: Settings, make_case: MakeCase
) -> None:
    a_case, a_media = make_case(12)
    b_case, b_media = make_case(13)
    a = preserve(db, settings, a_case.id, a_media)
    b = preserve(db, settings, b_case.id, b_media)
    file_of(settings, b).write_bytes(file_of(settings, a).read_bytes())
    with db.session() as s, pytest.raises(EvidenceUnreadable):
        service.read_bytes(s, settings, b.id, actor=SYSTEM)


def test_wrong_key_fails_and_rotation_rewraps_everything(
    db: Database, settings: Settings, make_case: MakeCase
) -> None:
    case, media_id = make_case(14)  # media sealed under the generated key
    old, new = (settings.data_dir / "master_key").read_text(), new_master_key_text()
    old_settings = with_key(settings, old)
    held = preserve(db, old_settings, case.id, media_id)
    bare_case, _ = make_case(15, with_media=False)
    bare = preserve(db, old_settings, bare_case.id, None)
    old_id = key_id(parse_master_key(old)).hex()
    assert held.key_id == old_id

    with db.session() as s:
        with pytest.raises(EvidenceUnreadable, match="not configured"):
            service.read_bytes(s, with_key(settings, new), held.id, actor=SYSTEM)
        failures = service.verify(s, with_key(settings, new)).failures
        assert {(f.evidence_id, f.part) for f in failures} == {
            (held.id, "content"),
            (held.id, "data"),
            (bare.id, "data"),
        }

    rotated = with_key(settings, new, old)
    with db.session() as s:
        assert service.read_bytes(s, rotated, held.id, actor=SYSTEM) == picture(14)
        assert service.rewrap_all(s, rotated) == 2
    with db.session() as s:
        assert service.objects_by_key(s) == {key_id(parse_master_key(new)).hex(): 2}
        assert service.rewrap_all(s, rotated) == 0
    new_only = with_key(settings, new)
    with db.session() as s:
        assert service.read_bytes(s, new_only, held.id, actor=SYSTEM) == picture(14)
        assert service.read_data(s, new_only, bare.id, actor=SYSTEM)["case"]["id"] == bare_case.id
        assert service.verify(s, new_only).ok
    assert events(db, "evidence.rewrapped")[0].payload == {"count": 2}


# ---- legal hold, retention and purge -------------------------------------------------------


def test_purge_deletes_expired_unheld_items_skips_held_ones_and_writes_an_event(
    db: Database, settings: Settings, make_case: MakeCase, boss: User, rita: User
) -> None:
    made = [make_case(20 + n) for n in range(3)]
    kept, held, gone = (preserve(db, settings, c.id, m) for c, m in made)
    with db.session() as s:
        with pytest.raises(PermissionDenied):
            service.place_hold(s, held.id, reason="matter 1", actor=who(rita))
        with pytest.raises(InvalidInput):
            service.place_hold(s, held.id, reason="  ", actor=who(boss))
    with db.session() as s:
        service.place_hold(s, held.id, reason="preservation request 2026-114", actor=who(boss))
    with db.session() as s:
        with pytest.raises(Conflict):
            service.place_hold(s, held.id, reason="again", actor=who(boss))
        # kept gets a later report, so only held and gone are past retention below
        service.attach_report(s, settings, kept.case_id, 5, utcnow() + timedelta(days=200))

    when = utcnow() + timedelta(days=366)
    with db.session() as s:
        result = service.purge_expired(s, settings, now=when)
        assert file_of(settings, gone).exists()  # removed only after the commit
    assert (result.purged, result.held_skipped) == (1, 1)
    assert not file_of(settings, gone).exists()
    assert file_of(settings, held).exists()
    assert file_of(settings, kept).exists()
    with db.session() as s:
        with pytest.raises(NotFound):
            service.get(s, gone.id)
        assert service.get(s, held.id).legal_hold
    (event,) = events(db, "evidence.purged")
    assert event.payload["evidence_ids"] == [gone.id]
    assert event.payload["held_skipped"] == 1

    with db.session() as s:
        with pytest.raises(Conflict):
            service.release_hold(s, kept.id, reason="none", actor=who(boss))
        service.release_hold(s, held.id, reason="matter closed", actor=who(boss))
    with db.session() as s:
        (hold,) = service.holds_of(s, held.id)
        assert (hold.reason, hold.release_reason) == (
            "preservation request 2026-114",
            "matter closed",
        )
        assert service.purge_expired(s, settings, now=when).purged == 1
    assert not file_of(settings, held).exists()
    assert [e.kind for e in events(db, "evidence.hold_placed")] == ["evidence.hold_placed"]
    assert len(events(db, "evidence.hold_released")) == 1
    with db.session() as s:
        assert verify_chain(s).ok
        assert service.verify(s, settings).ok


def test_a_purge_that_rolls_back_removes_nothing(
    db: Database, settings: Settings, make_case: MakeCase
) -> None:
    case, media_id = make_case(30)
    item = preserve(db, settings, case.id, media_id)
    s = db.sessionmaker()
    try:
        assert service.purge_expired(s, settings, now=utcnow() + timedelta(days=400)).purged == 1
        raise_here = True
    finally:
        s.rollback()  # the process died before commit
        s.close()
    assert raise_here
    assert file_of(settings, item).exists()
    with db.session() as s:
        assert service.read_bytes(s, settings, item.id, actor=SYSTEM) == picture(30)
        assert service.verify(s, settings).ok


def test_a_crash_between_commit_and_unlink_leaves_an_orphan_the_next_purge_removes(
    db: Database, settings: Settings, make_case: MakeCase
) -> None:
    case, media_id = make_case(31)
    item = preserve(db, settings, case.id, media_id)
    with db.session() as s:
        service.purge_expired(s, settings, now=utcnow() + timedelta(days=400))
        s.info.pop("shieldwall.files.unlink_after_commit")  # died before the unlink
    path = file_of(settings, item)
    assert path.exists()
    with db.session() as s:
        assert service.verify(s, settings).ok  # no row points at a missing file
        assert service.purge_expired(s, settings).orphan_files == 0  # too young to judge
    hour_ago = time.time() - 3700
    os.utime(path, (hour_ago, hour_ago))
    with db.session() as s:
        assert service.purge_expired(s, settings).orphan_files == 1
    assert not path.exists()


def test_a_preserve_that_rolls_back_leaves_only_a_file_the_purge_sweeps(
    db: Database, settings: Settings, make_case: MakeCase
) -> None:
    case, media_id = make_case(32)
    s = db.sessionmaker()
    try:
        service.preserve(s, settings, case_id=case.id, media_id=media_id, data={})
    finally:
        s.rollback()
        s.close()
    assert items(db) == 0
    (orphan,) = list(service.evidence_dir(settings).iterdir())
    hour_ago = time.time() - 3700
    os.utime(orphan, (hour_ago, hour_ago))
    with db.session() as s:
        assert service.purge_expired(s, settings).orphan_files == 1
    assert not orphan.exists()


# ---- the decision hook ---------------------------------------------------------------------


def test_a_violating_decision_preserves_the_content(
    db: Database, settings: Settings, make_case: MakeCase, rita: User
) -> None:
    case, media_id = make_case(40)
    decide_violating(db, settings, case.id, rita)
    with db.session() as s:
        (item,) = service.for_case(s, case.id)
        assert item.media_id == media_id
        assert item.preserved_by == f"user:{rita.id}"
        assert service.read_bytes(s, settings, item.id, actor=SYSTEM) == picture(40)
        document = service.read_data(s, settings, item.id, actor=SYSTEM)
    assert document["case"]["outcome"] == "violating"
    assert document["case"]["label"] == "A1"
    assert document["entries"][0]["data"]["trigger"] == "decision"


def test_a_hash_only_violating_decision_keeps_data_without_a_file(
    db: Database, settings: Settings, make_case: MakeCase, rita: User
) -> None:
    case, _ = make_case(41, with_media=False)
    decide_violating(db, settings, case.id, rita)
    with db.session() as s:
        (item,) = service.for_case(s, case.id)
        assert (item.file_state, item.no_file_reason) == ("not_held", "hash_only")


def test_a_not_violating_decision_preserves_nothing(
    db: Database, settings: Settings, make_case: MakeCase, rita: User
) -> None:
    from shieldwall.cases import service as cases
    from shieldwall.cases.schemas import Outcome

    case, _ = make_case(42)
    with db.session() as s:
        cases.decide(
            s,
            settings,
            case.id,
            outcome=Outcome.NOT_VIOLATING,
            label=None,
            note="",
            actor=who(rita),
        )
    assert items(db) == 0


# ---- concurrency ---------------------------------------------------------------------------


def test_two_sessions_preserving_the_same_case_and_media_make_one_item(
    db: Database, settings: Settings, make_case: MakeCase
) -> None:
    """Two transactions race to preserve the same case and media: one item, one file."""
    import threading

    from tests.conftest import PG_URL
    from tests.media.test_service import wait_for_lock_waiter

    case, media_id = make_case(50)
    results: list[int] = []
    errors: list[BaseException] = []
    first_done = threading.Event()
    release_first = threading.Event()

    def first() -> None:
        try:
            with db.session() as s:
                item = service.preserve(s, settings, case_id=case.id, media_id=media_id, data={})
                results.append(item.id)
                first_done.set()
                release_first.wait(timeout=30)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
            first_done.set()

    def second() -> None:
        try:
            with db.session() as s:
                item = service.preserve(s, settings, case_id=case.id, media_id=media_id, data={})
                results.append(item.id)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    one = threading.Thread(target=first)
    one.start()
    assert first_done.wait(timeout=30)
    two = threading.Thread(target=second)
    two.start()
    if PG_URL:
        wait_for_lock_waiter(db)  # the second insert waits on the first's unique key
    release_first.set()
    one.join(timeout=30)
    two.join(timeout=30)
    assert errors == []
    assert len(results) == 2
    assert len(set(results)) == 1
    assert items(db) == 1
    assert len(list(service.evidence_dir(settings).iterdir())) == 1
    with db.session() as s:
        assert service.read_bytes(s, settings, results[0], actor=SYSTEM) == picture(50)
