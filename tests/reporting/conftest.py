"""Fixtures for the reporting tests: a fake CyberTipline over real HTTP, settings that
point at it, and decided cases (benign generated pictures stand in for media)."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from PIL import Image
from pydantic import SecretStr

from shieldwall.cases import service as cases
from shieldwall.cases.models import Case
from shieldwall.cases.schemas import CaseSource, Outcome, SignalIn, Subject
from shieldwall.config import Settings
from shieldwall.core.access import Principal, Role
from shieldwall.db.engine import Database
from shieldwall.devtools.fake_cybertipline import PASSWORD, USERNAME, FakeCyberTipline
from shieldwall.devtools.fake_http import Running
from shieldwall.jobs import handlers
from shieldwall.jobs.outbox import OutboxWorker
from shieldwall.media import service as media
from shieldwall.users import service as users
from tests.conftest import SYSTEM, make_user


def picture(seed: int) -> bytes:
    """A small benign picture: a flat colour."""
    out = io.BytesIO()
    Image.new("RGB", (32, 32), ((seed * 40) % 256, 120, 200)).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
def fake() -> Iterator[tuple[FakeCyberTipline, str]]:
    service = FakeCyberTipline()
    with Running(service) as running:
        yield service, running.url + "/ispws"


@pytest.fixture
def rsettings(settings: Settings, fake: tuple[FakeCyberTipline, str]) -> Settings:
    return settings.model_copy(
        update={
            "cybertipline_url": fake[1],
            "cybertipline_username": USERNAME,
            "cybertipline_password": SecretStr(PASSWORD),
            "cybertipline_timeout_seconds": 1.0,
            "reporter_company": "Example Social",
            "reporter_email": "safety@example.org",
            "reporter_contact_name": "Lee Park",
            "reporter_contact_email": "lee@example.org",
            "reporter_terms_of_service_url": "https://example.org/terms",
            "reporter_legal_url": "https://example.org/legal",
        }
    )


@pytest.fixture
def reviewer(db: Database) -> Principal:
    return users.principal_for(make_user(db, "rita", Role.REVIEWER))


DecidedCase = Callable[..., Case]


@pytest.fixture
def decided_case(db: Database, rsettings: Settings, reviewer: Principal) -> DecidedCase:
    """``decided_case(ref, media=2, hash_only=1, label="A1")`` -> a case decided violating
    (the decision hook queues its report), committed and detached."""

    def factory(
        ref: str = "post-1",
        *,
        media_count: int = 1,
        hash_only: int = 0,
        label: str = "A1",
        account: str | None = "acct-1",
        settings_: Settings | None = None,
    ) -> Case:
        s_ = settings_ or rsettings
        with db.session() as s:
            case = None
            for n in range(media_count + hash_only):
                media_id = None
                if n < media_count:
                    media_id = media.store(
                        s, s_, picture(hash(ref) % 50 + n), media_type="image/png"
                    ).id
                digest = hashlib.md5(f"{ref}-{n}".encode()).hexdigest()  # noqa: S324
                case = cases.attach_signal(
                    s,
                    s_,
                    subject=Subject("content", ref, account),
                    signal=SignalIn(
                        source=CaseSource.HASH_MATCH,
                        principles=[1],
                        summary={"scan_id": f"{ref}-{n}"},
                        labels=("A1",),
                        hashes=[("md5", digest)],
                        ref=f"scan:{ref}:{n}",
                        media_id=media_id,
                    ),
                    actor=SYSTEM,
                )
            assert case is not None
            case_id = case.id
        with db.session() as s:
            case = cases.decide(
                s, s_, case_id, outcome=Outcome.VIOLATING, label=label, note="", actor=reviewer
            )
            s.flush()
            s.expunge(case)
        return case

    return factory


def worker(db: Database, settings: Settings, **options: Any) -> OutboxWorker:
    options.setdefault("backoff_base", 0.0)
    options.setdefault("backoff_cap", 0.0)
    return handlers.build_worker(db, settings, **options)
