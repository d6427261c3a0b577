"""Media a case still needs outlives ``media_retention_days`` until the case is closed."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shieldwall.cases.models import Case
from shieldwall.config import Settings
from shieldwall.core.errors import NotFound
from shieldwall.db.base import utcnow
from shieldwall.db.engine import Database
from shieldwall.media import service as media
from tests.cases.conftest import OpenCase, match_signal
from tests.media.samples import picture

pytestmark = pytest.mark.db


def test_purge_keeps_media_of_an_open_case_and_takes_it_once_closed(
    db: Database, settings: Settings, open_case: OpenCase
) -> None:
    with db.session() as session:
        held = media.store(session, settings, picture(31), media_type="image/png").id
        loose = media.store(session, settings, picture(32), media_type="image/png").id
    case = open_case("post-77", signal=match_signal(77, media_id=held))
    later = utcnow() + timedelta(days=settings.media_retention_days, minutes=1)

    with db.session() as session:
        assert media.purge_expired(session, settings, now=later) == 1  # only the loose one
    with db.session() as session:
        assert media.read(session, settings, held)
        row = session.get(Case, case.id)
        assert row is not None
        row.status = "closed"
    with db.session() as session:
        assert media.purge_expired(session, settings, now=later) == 1
    with db.session() as session:
        assert media.retained_ids(session) == set()
        with pytest.raises(NotFound):
            media.read(session, settings, held)
        with pytest.raises(NotFound):
            media.read(session, settings, loose)
