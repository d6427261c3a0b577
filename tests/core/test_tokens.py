"""``same_token``: a sent token compared with the expected one; anything odd is just wrong."""

from __future__ import annotations

import pytest

from shieldwall.core.tokens import same_token

TOKEN = "3f" * 20


def test_the_expected_token_is_the_same_and_any_other_is_not() -> None:
    assert same_token(TOKEN, TOKEN)
    assert same_token(TOKEN, "3f" * 20)  # equal text, another object
    assert not same_token(TOKEN, TOKEN[:-1] + "0")
    assert not same_token(TOKEN, TOKEN + "0")
    assert not same_token(TOKEN, "")


@pytest.mark.parametrize(
    "given", ["é" * 40, "\udcff", "3f" * 19 + "\uff13f", None, 42, b"3f" * 20, ["3f"], object()]
)
def test_anything_but_ascii_text_is_a_wrong_token_not_an_error(given: object) -> None:
    assert same_token(TOKEN, given) is False
