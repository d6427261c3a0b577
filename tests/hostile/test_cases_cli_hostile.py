"""``shieldwall cases`` with hostile arguments: a username with a NUL byte, ids past the
database's integers. Plain-words errors (exit 2), never a traceback."""

from __future__ import annotations

import pytest

from tests.cases.conftest import OpenCase, open_case
from tests.cases.test_cli import cli_env, run

__all__ = ["cli_env", "open_case"]  # fixtures

pytestmark = pytest.mark.db


@pytest.mark.parametrize("who", ["a\x00b", "nobody", ""])
def test_decide_as_a_user_that_cannot_exist(open_case: OpenCase, who: str) -> None:
    case_id = open_case("post-1").id
    result = run("cases", "decide", str(case_id), "not_violating", "--as", who)
    assert result.exit_code == 2, result.output
    assert "no user named" in result.output


@pytest.mark.parametrize("case_id", ["2147483648", "99999999999999999999"])
def test_show_and_decide_an_id_past_the_database_integers(case_id: str) -> None:
    for args in (["show", case_id], ["decide", case_id, "not_violating", "--as", "x"]):
        result = run("cases", *args)
        assert result.exit_code == 2, result.output
        assert "Traceback" not in result.output
    assert f"no case with id {case_id}" in run("cases", "show", case_id).output
