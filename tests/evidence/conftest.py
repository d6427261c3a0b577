"""Fixtures for the evidence vault tests: a case holding benign generated media, a case
with hashes only, reviewers and an analyst. Reporting is switched off (``reporting_labels``
empty) so these tests see the vault alone."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from shieldwall.cases import service as cases
from shieldwall.cases.models import Case
from shieldwall.cases.schemas import Outcome, Subject
from shieldwall.config import Settings
from shieldwall.core.access import Role
from shieldwall.db.engine import Database
from shieldwall.evidence import service
from shieldwall.evidence.models import EvidenceItem
from shieldwall.media import service as media
from shieldwall.users import service as users
from shieldwall.users.models import User
from tests.cases.conftest import match_signal
from tests.conftest import SYSTEM, make_user
from tests.media.samples import picture
from tests.web.conftest import login_as, new_client  # noqa: F401 - the web tests' fixtures


@pytest.fixture
def settings(settings: Settings) -> Settings:  # type: ignore[override]
    return settings.model_copy(update={"reporting_labels": []})


@pytest.fixture
def session(db: Database) -> Iterator[Session]:
    s = db.sessionmaker()
    try:
        yield s
    finally:
        s.rollback()
        s.close()


@pytest.fixture
def rita(db: Database) -> User:
    return make_user(db, "rita", Role.REVIEWER)


@pytest.fixture
def ann(db: Database) -> User:
    return make_user(db, "ann", Role.ANALYST)


@pytest.fixture
def boss(db: Database) -> User:
    return make_user(db, "boss", Role.ADMIN)


MakeCase = Callable[..., tuple[Case, int | None]]


@pytest.fixture
def make_case(db: Database, settings: Settings) -> MakeCase:
    """``make_case(n, with_media=True)`` -> (a committed open case, its media id or None)."""

    def factory(n: int = 1, *, with_media: bool = True) -> tuple[Case, int | None]:
        with db.session() as s:
            media_id = None
            if with_media:
                media_id = media.store(s, settings, picture(n), media_type="image/png").id
            case = cases.attach_signal(
                s,
                settings,
                subject=Subject("content", f"post-{n}", f"acct-{n}"),
                signal=match_signal(n, media_id=media_id),
                actor=SYSTEM,
            )
            s.flush()
            s.expunge(case)
        return case, media_id

    return factory


def decide_violating(db: Database, settings: Settings, case_id: int, user: User) -> None:
    with db.session() as s:
        cases.decide(
            s,
            settings,
            case_id,
            outcome=Outcome.VIOLATING,
            label="A1",
            note="",
            actor=users.principal_for(user),
        )


def preserve(
    db: Database, settings: Settings, case_id: int, media_id: int | None, **kw: object
) -> EvidenceItem:
    with db.session() as s:
        item = service.preserve(
            s,
            settings,
            case_id=case_id,
            media_id=media_id,
            data=kw.pop("data", {"k": 1}),
            **kw,  # type: ignore[arg-type]
        )
        s.flush()
        s.expunge(item)
        return item


def file_of(settings: Settings, item: EvidenceItem) -> Path:
    return service.evidence_dir(settings) / item.uuid
