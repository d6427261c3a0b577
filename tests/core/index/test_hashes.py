"""Malformed hashes and ids are refused with InvalidInput; good ones round-trip."""

from __future__ import annotations

import numpy as np
import pytest

from shieldwall.core.errors import InvalidInput
from shieldwall.core.index import PdqIndex
from shieldwall.core.index._hashes import parse_ids, pdq_hex, pdq_word, pdq_words

GOOD = "f" * 16 + "0" * 16 + "0123456789abcdef" * 2


@pytest.mark.parametrize(
    "bad",
    [
        GOOD[:-1],
        GOOD + "0",
        "",
        "g" + GOOD[1:],
        GOOD[:31] + " " + GOOD[32:],
        "é" + GOOD[1:],
        bytes(31),
        bytes(33),
        GOOD.encode(),  # hex must be a str; bytes are raw
        42,
        None,
    ],
    ids=repr,
)
def test_bad_hash_is_invalid_input(bad: object) -> None:
    with pytest.raises(InvalidInput):
        pdq_word(bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="hash #1"):
        pdq_words([GOOD, bad])  # type: ignore[list-item]
    with pytest.raises(InvalidInput):
        PdqIndex().query(bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        PdqIndex.build([1], [bad])  # type: ignore[list-item]


def test_lengths_that_only_add_up_together_are_refused() -> None:
    with pytest.raises(InvalidInput):
        pdq_words([GOOD[:-1], GOOD + "a"])


@pytest.mark.parametrize(
    "array",
    [np.zeros((2, 31), np.uint8), np.zeros((2, 32), np.int8), np.zeros(32, np.uint8)],
    ids=["short rows", "signed", "one-dimensional"],
)
def test_bad_hash_array_is_invalid_input(array: np.ndarray) -> None:
    with pytest.raises(InvalidInput):
        pdq_words(array)


def test_single_value_where_many_expected() -> None:
    with pytest.raises(InvalidInput, match="sequence"):
        pdq_words(GOOD)


def test_forms_agree_and_hex_round_trips() -> None:
    raw = bytes.fromhex(GOOD)
    words = pdq_words([GOOD, GOOD.upper(), raw, bytearray(raw), memoryview(raw)])
    assert (words == words[0]).all()
    array = np.frombuffer(raw, np.uint8).reshape(1, 32)
    assert (pdq_words(array) == words[:1]).all()
    assert pdq_hex(words[:2]) == [GOOD, GOOD]
    assert pdq_words([]).shape == (0, 4)


@pytest.mark.parametrize(
    "ids",
    [[1.5], [True], ["3"], [2**63], [-(2**63) - 1], np.array([1.0]), np.array([2**63], np.uint64)],
    ids=repr,
)
def test_bad_ids_are_invalid_input(ids: object) -> None:
    with pytest.raises(InvalidInput):
        parse_ids(ids)  # type: ignore[arg-type]


def test_ids_must_match_hashes() -> None:
    with pytest.raises(InvalidInput, match="2 ids for 1 hashes"):
        PdqIndex.build([1, 2], [GOOD])
    with pytest.raises(InvalidInput, match="one-dimensional"):
        parse_ids(np.zeros((2, 2), np.int64))
    assert parse_ids([-(2**63), 2**63 - 1]).tolist() == [-(2**63), 2**63 - 1]
