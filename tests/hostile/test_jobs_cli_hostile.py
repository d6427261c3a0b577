"""``shieldwall jobs retry`` with an id past the database's integers: plain words, exit 2."""

from __future__ import annotations

import pytest

from tests.jobs.conftest import receiver
from tests.jobs.test_cli import cli_env, run

__all__ = ["cli_env", "receiver"]  # fixtures

pytestmark = pytest.mark.db


@pytest.mark.parametrize("item_id", ["9223372036854775808", "99999999999999999999"])
def test_retry_of_an_id_past_the_database_integers_is_unknown(item_id: str) -> None:
    result = run("jobs", "retry", item_id)
    assert result.exit_code == 2, result.output
    assert f"no outbox item with id {item_id}" in result.output
