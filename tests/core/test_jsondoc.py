"""JSON from outside: a document nested past the decoder's recursion limit is a ValueError
(what every caller turns into a clear refusal), not a RecursionError that escapes them."""

from __future__ import annotations

import json

import pytest

from shieldwall.core import jsondoc
from shieldwall.core.errors import InvalidInput
from shieldwall.core.signals import VpdqHash

DEEP = "[" * 100_000 + "]" * 100_000


def test_ordinary_json_is_read_as_json_reads_it() -> None:
    text = '{"a": [1, 2.5, "x", null, true, {"b": []}]}'
    assert jsondoc.loads(text) == json.loads(text)
    assert jsondoc.loads(text.encode()) == json.loads(text)
    assert jsondoc.loads("[" * 100 + "]" * 100) == json.loads("[" * 100 + "]" * 100)


@pytest.mark.parametrize("data", [DEEP, DEEP.encode(), '{"a": ' + DEEP + "}"])
def test_json_nested_too_deeply_is_a_decode_error(data: str | bytes) -> None:
    with pytest.raises(RecursionError):
        json.loads(data)  # what the standard library does
    with pytest.raises(json.JSONDecodeError, match="nested too deeply"):
        jsondoc.loads(data)


def test_a_vpdq_value_nested_too_deeply_is_refused_as_input() -> None:
    """vPDQ values arrive from API calls, bank imports and exchanges, in pytx's JSON form."""
    with pytest.raises(InvalidInput, match="nested too deeply"):
        VpdqHash.parse(DEEP)


def test_uploads_read_through_it_refuse_deep_json_as_bad_json() -> None:
    """Two more readers of uploaded files: an accountability JSON upload (its caller turns
    ValueError into a rejected file) and a term list in JSON Lines (a rejected line)."""
    from shieldwall.accountability.loaders import manual
    from shieldwall.textsignals import io as text_io
    from shieldwall.textsignals.schemas import FileFormat

    with pytest.raises(ValueError, match="nested too deeply"):
        manual.decode_json(DEEP.encode())
    rows = list(text_io._rows(DEEP + "\n", FileFormat.JSONL))
    assert len(rows) == 1
    assert rows[0][0] == 1
    assert "nested too deeply" in str(rows[0][1])


LONG_NUMBER = "9" * 5000


@pytest.mark.parametrize(
    "data", [LONG_NUMBER, LONG_NUMBER.encode(), '{"quality": -' + LONG_NUMBER + "}"]
)
def test_a_number_past_the_digit_limit_is_a_decode_error(data: str | bytes) -> None:
    with pytest.raises(ValueError, match="4300 digits") as plain:
        json.loads(data)  # what the standard library does: no JSONDecodeError
    assert not isinstance(plain.value, json.JSONDecodeError)
    with pytest.raises(json.JSONDecodeError, match="more than 4,300 digits"):
        jsondoc.loads(data)


def test_bytes_that_are_not_utf8_are_a_decode_error() -> None:
    with pytest.raises(UnicodeDecodeError):
        json.loads(b'"\xff"')
    with pytest.raises(json.JSONDecodeError, match="not utf-8 text"):
        jsondoc.loads(b'"\xff"')


def test_a_term_list_line_with_a_long_number_is_a_rejected_line() -> None:
    from shieldwall.textsignals import io as text_io
    from shieldwall.textsignals.schemas import FileFormat

    text = '{"term": "ok"}\n{"term": "x", "weight": ' + LONG_NUMBER + "}\n"
    rows = list(text_io._rows(text, FileFormat.JSONL))
    assert rows[1][0] == 2
    assert "more than 4,300 digits" in str(rows[1][1])
