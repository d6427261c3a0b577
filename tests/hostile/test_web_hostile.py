"""Hostile input through the review pages."""

from __future__ import annotations

import pytest

from shieldwall.core.access import Role
from shieldwall.db.engine import Database
from tests.conftest import PASSWORD, make_user
from tests.web.conftest import LoginAs

pytestmark = pytest.mark.db


@pytest.mark.parametrize("offset", ["99999999999999999999999", "9223372036854775808"])
def test_queue_page_offset_past_the_database_integers_is_an_empty_page(
    db: Database, login_as: LoginAs, offset: str
) -> None:
    make_user(db, "rita", Role.REVIEWER)
    page = login_as("rita", PASSWORD).get(f"/review?offset={offset}")
    assert page.status_code == 200, page.text[:300]


def test_queue_page_assignee_with_a_nul_byte_says_no_such_user(
    db: Database, login_as: LoginAs
) -> None:
    make_user(db, "rita", Role.REVIEWER)
    page = login_as("rita", PASSWORD).get("/review?assignee=a%00b")
    assert page.status_code == 200, page.text[:300]
    assert "no user named" in page.text


@pytest.mark.parametrize("case_id", ["2147483648", "9223372036854775808"])
@pytest.mark.parametrize("view", ["preview", "reveal", "original"])
def test_media_of_a_case_id_past_the_database_integers_is_not_served(
    db: Database, login_as: LoginAs, case_id: str, view: str
) -> None:
    make_user(db, "rita", Role.REVIEWER)
    page = login_as("rita", PASSWORD).get(f"/review/cases/{case_id}/media/1/{view}")
    assert page.status_code in (403, 404), page.text[:300]  # reveal/original: no token
