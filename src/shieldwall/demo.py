"""The demo installation: an admin, a reviewer, an analyst and one integration API key.

:func:`seed_demo` is idempotent. Secrets it creates are written to
``<data_dir>/demo-credentials.txt`` (mode 0600) as ``key=value`` lines, the admin's first::

    username=admin
    password=...
    reviewer_username=demo-reviewer
    reviewer_password=...
    analyst_username=demo-analyst
    analyst_password=...
    api_key=sw_...

An account that exists and whose password is in the file is reused untouched. The file is
written *before* the transaction commits, so a failed commit leaves a file whose accounts the
next run creates with the same passwords, never accounts whose passwords are lost.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.orm import Session

from shieldwall.apikeys import repository as apikeys_repository
from shieldwall.apikeys import service as apikeys_service
from shieldwall.apikeys.schemas import ApiKeyCreate, KeyKind
from shieldwall.banks import repository as banks_repository
from shieldwall.banks import service as banks_service
from shieldwall.banks.schemas import BankCreate, EntryIn
from shieldwall.config import Settings
from shieldwall.core.access import Principal, Role, Scope
from shieldwall.core.errors import Conflict
from shieldwall.core.hashing import hash_bytes
from shieldwall.db import migrate
from shieldwall.db.base import utcnow
from shieldwall.db.engine import Database
from shieldwall.demo_media import write_demo_images
from shieldwall.users import repository as users_repository
from shieldwall.users import service as users_service
from shieldwall.users.schemas import UserCreate

CREDENTIALS_FILE = "demo-credentials.txt"
DEMO_KEY_NAME = "demo upload service"
DEMO_KEY_SCOPES = (Scope.SCAN,)


@dataclass(frozen=True)
class DemoAccount:
    role: Role
    username: str
    username_key: str
    password_key: str


@dataclass(frozen=True)
class DemoLogin:
    """The admin login of the demo, and what this run created (empty when nothing)."""

    username: str
    password: str
    credentials_file: Path
    created: tuple[str, ...] = field(default=())


def credentials_path(settings: Settings) -> Path:
    return settings.data_dir / CREDENTIALS_FILE


def read_credentials(path: Path) -> dict[str, str]:
    """The ``key=value`` lines of a credentials file; empty when there is no file."""
    if not path.is_file():
        return {}
    values: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip():
            values[key.strip()] = value.strip()
    return values


def write_credentials(path: Path, values: dict[str, str]) -> None:
    """Replace the file atomically; it is readable by its owner only from the first byte."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write("".join(f"{key}={value}\n" for key, value in values.items()))
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.chmod(path, 0o600)


def demo_accounts(settings: Settings) -> tuple[DemoAccount, ...]:
    return (
        DemoAccount(Role.ADMIN, settings.demo_admin_username, "username", "password"),
        DemoAccount(Role.REVIEWER, "demo-reviewer", "reviewer_username", "reviewer_password"),
        DemoAccount(Role.ANALYST, "demo-analyst", "analyst_username", "analyst_password"),
    )


def seed_demo(db: Database, settings: Settings) -> DemoLogin:
    """Create whatever of the demo is missing; return the admin login.

    Migrates first when allowed (raises :class:`~shieldwall.core.errors.DatabaseNotMigrated`
    otherwise). Raises :class:`~shieldwall.core.errors.Conflict` when a demo account exists
    but its password is not in the credentials file, since it cannot be shown then.
    """
    migrate.ensure_current(db.engine, auto_migrate=settings.should_auto_migrate)
    path = credentials_path(settings)
    saved = read_credentials(path)
    actor = Principal.system("demo")
    wanted: dict[str, str] = {}
    created: list[str] = []

    with db.session() as session:
        to_create: list[tuple[DemoAccount, str]] = []
        for account in demo_accounts(settings):
            password = _known_password(saved, account)
            exists = users_repository.get_user_by_username(session, account.username) is not None
            if exists and password is None:
                raise Conflict(
                    f"user {account.username!r} already exists but its password is not in "
                    f"{path}; set one with `shieldwall user set-password {account.username}` "
                    "and add it to that file, or remove the user"
                )
            if password is None:
                password = secrets.token_urlsafe(12)
            if not exists:
                to_create.append((account, password))
            wanted[account.username_key] = account.username
            wanted[account.password_key] = password

        api_key = _live_demo_key(session, saved.get("api_key", ""))
        if api_key is not None:
            wanted["api_key"] = api_key
        # Passwords reach the file before the users exist (see the module docstring).
        if wanted != saved:
            write_credentials(path, wanted)
        for account, password in to_create:
            data = UserCreate(
                username=account.username, password=password, role=account.role, display_name=""
            )
            users_service.create_user(session, data, actor=actor)
            created.append(f"{account.role.value} {account.username}")
        if api_key is None:
            admin = users_repository.get_user_by_username(session, settings.demo_admin_username)
            assert admin is not None
            _key, plain = apikeys_service.create_key(
                session,
                ApiKeyCreate(
                    name=DEMO_KEY_NAME,
                    kind=KeyKind.INTEGRATION,
                    scopes=list(DEMO_KEY_SCOPES),
                    owner_id=admin.id,
                ),
                actor=actor,
            )
            wanted["api_key"] = plain
            write_credentials(path, wanted)
            created.append(f"API key {DEMO_KEY_NAME!r}")

        if _seed_demo_bank(session, settings, actor):
            created.append(f"bank {DEMO_BANK} with {len(DEMO_KNOWN)} stand-in pictures")
        tracker = _seed_accountability(session, settings, actor)
        if tracker:
            created.append(tracker)

    activity = _seed_transparency_activity(db, settings)
    if activity:
        created.append(activity)

    return DemoLogin(
        username=wanted["username"],
        password=wanted["password"],
        credentials_file=path,
        created=tuple(created),
    )


DEMO_BANK = "DEMO_STAND_INS"
DEMO_KNOWN = ("known-1.jpg", "known-2.jpg", "known-3.jpg")


def _seed_demo_bank(session: Session, settings: Settings, actor: Principal) -> bool:
    """A block bank holding the hashes of generated stand-in pictures (once)."""
    folder = settings.data_dir / "demo-images"
    files = write_demo_images(folder)  # cheap, and restores deleted pictures
    if banks_repository.get_bank_by_name(session, DEMO_BANK) is not None:
        return False
    banks_service.create_bank(
        session,
        BankCreate(
            name=DEMO_BANK,
            description="Demo only: hashes of generated abstract pictures in "
            f"{folder} standing in for known material. Scan known-1-edited.jpg to see a "
            "near-duplicate blocked.",
            labels=["demo"],
        ),
        actor=actor,
    )
    entries = []
    for n, name in enumerate(DEMO_KNOWN, start=1):
        media = hash_bytes(files[name])
        pdq = media.primary_pdq
        assert pdq is not None
        entries.append(
            EntryIn(
                signal_type="pdq",
                value=pdq.hex,
                quality=pdq.quality,
                labels=["demo"],
                source_record_id=f"demo-{n}",
            )
        )
        entries.append(
            EntryIn(
                signal_type="md5", value=media.md5, labels=["demo"], source_record_id=f"demo-{n}"
            )
        )
    banks_service.add_entries(session, DEMO_BANK, entries, actor=actor)
    return True


def _seed_accountability(session: Session, settings: Settings, actor: Principal) -> str:
    """The accountability tracker's reference data (commitments, NCMEC, disclosures) from the
    accountability_data_dir folder; nothing when it is missing (the page then says so).
    Re-running changes nothing unless the files did."""
    from shieldwall.accountability.importing import import_reference

    folder = settings.resolved_accountability_data_dir
    if not folder.is_dir():
        return ""
    summary = import_reference(session, folder, actor=actor)
    added = sum(f.added + f.changed for f in summary.files if f.applied)
    if not added:
        return ""
    return f"accountability tracker: {added:,} rows from {folder}"


def _known_password(saved: dict[str, str], account: DemoAccount) -> str | None:
    if saved.get(account.username_key) != account.username:
        return None
    return saved.get(account.password_key) or None


def _live_demo_key(session: Session, plain: str) -> str | None:
    """``plain`` when it names a key that exists and still works, else None."""
    parts = plain.split("_", 2)
    if len(parts) != 3:
        return None
    key = apikeys_repository.get_by_prefix(session, parts[1])
    if key is None or key.revoked_at is not None:
        return None
    if key.expires_at is not None and key.expires_at <= utcnow():
        return None
    return plain


DEMO_REVIEW_BANK = "DEMO_REVIEW_STAND_INS"
#: Seeds of generated stand-in pictures: scanned without a match, put in the review bank,
#: sent as a survivor's takedown request.
DEMO_PLAIN_SEEDS = range(100, 124)
DEMO_REVIEW_SEEDS = range(200, 212)
DEMO_TAKEDOWN_SEEDS = (300, 301)


def _seed_transparency_activity(db: Database, settings: Settings) -> str:
    """Realistic activity for the transparency report at /transparency, once: scans through
    the matching index, hash-match cases from a review bank, reviewers' decisions, user
    reports and survivors' takedown requests, all through the real services, so every
    number on the report comes from real events. Skipped when the demo already did it."""
    from shieldwall.audit import repository as audit_repository
    from shieldwall.banks.schemas import BankAction
    from shieldwall.cases import scanning
    from shieldwall.cases import service as cases
    from shieldwall.cases.schemas import Outcome
    from shieldwall.demo_media import jpeg, stand_in
    from shieldwall.intake import service as intake
    from shieldwall.intake import takedowns
    from shieldwall.intake.schemas import HashIn, TakedownRequestIn, UserReportIn
    from shieldwall.matching import service as matching
    from shieldwall.matching.index import MatchIndex

    actor = Principal.system("demo")
    platform = Principal.system("demo-platform")
    with db.session() as session:
        done = audit_repository.list_events(
            session, kind="scan.completed", actor=platform.actor, limit=1
        )
        if done:
            return ""
        reviewer_user = users_repository.get_user_by_username(session, "demo-reviewer")
        if reviewer_user is None:
            return ""
        reviewer = users_service.principal_for(reviewer_user)
        if banks_repository.get_bank_by_name(session, DEMO_REVIEW_BANK) is None:
            banks_service.create_bank(
                session,
                BankCreate(
                    name=DEMO_REVIEW_BANK,
                    description="Demo only: generated abstract pictures whose matches go to "
                    "a reviewer (the transparency report's demo activity).",
                    action=BankAction.REVIEW,
                    labels=["demo"],
                ),
                actor=actor,
            )
            entries = [
                EntryIn(signal_type="md5", value=hash_bytes(jpeg(stand_in(n))).md5, labels=["demo"])
                for n in DEMO_REVIEW_SEEDS
            ]
            banks_service.add_entries(session, DEMO_REVIEW_BANK, entries, actor=actor)
    index = MatchIndex(db, settings)
    index.load()
    pictures = [(f"demo-post-{n}", jpeg(stand_in(n))) for n in DEMO_PLAIN_SEEDS]
    pictures += [(f"demo-post-{n}", jpeg(stand_in(n))) for n in DEMO_REVIEW_SEEDS]
    options = matching.hash_options(
        index,
        quality_floor=settings.pdq_quality_floor,
        max_pixels=settings.max_image_pixels,
        max_bytes=settings.scan_max_bytes,
    )
    case_ids: list[int] = []
    with db.session() as session:
        matcher = matching.Matcher(session, index, quality_floor=settings.pdq_quality_floor)
        for n, (content, data) in enumerate(pictures):
            result = matching.scan_media(
                matcher, data, declared_type="image/jpeg", options=options, bank_names=None,
            )  # fmt: skip
            result = scanning.after_scan(
                session, settings, result, source="upload", actor=platform,
                refs=scanning.ScanRefs(content, f"demo-account-{n % 7}"), data=data,
                media_type="image/jpeg",
            )  # fmt: skip
            matching.record_scan(session, result, actor=platform, source="upload")
            if result.case_id is not None:
                case_ids.append(result.case_id)
        reports = []
        for n in range(3):
            received = intake.submit_report(
                session, settings,
                UserReportIn(reporter_id=f"demo-reporter-{n}", category="child_sexual_exploitation",
                             content_id=f"demo-reported-post-{n}", account_id=f"demo-account-{n}"),
                actor=platform,
            )  # fmt: skip
            assert received.report.case_id is not None
            reports.append(received.report.case_id)
        for seed in DEMO_TAKEDOWN_SEEDS:
            md5 = hash_bytes(jpeg(stand_in(seed))).md5
            taken = takedowns.submit_takedown(
                session, settings, TakedownRequestIn(hashes=[HashIn(signal_type="md5", value=md5)]),
                client_address=None,
            )  # fmt: skip
            assert taken.request.case_id is not None
            reports.append(taken.request.case_id)
        labels = ["A1", "A2", "B1", "B2"]
        decided = 0
        for n, case_id in enumerate(case_ids + reports):
            violating = n % 6 != 5
            cases.decide(
                session, settings, case_id,
                outcome=Outcome.VIOLATING if violating else Outcome.NOT_VIOLATING,
                label=labels[n % 4] if violating else None, note="", actor=reviewer,
            )  # fmt: skip
            decided += 1
    return (
        f"transparency demo activity: {len(pictures)} scans, {len(case_ids)} hash-match cases, "
        f"3 user reports, {len(DEMO_TAKEDOWN_SEEDS)} takedown requests, {decided} decisions"
    )
