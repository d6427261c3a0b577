"""A value with a newline after it is not the value: names, labels, cursors and media types
checked with ``$``-anchored patterns are matched whole (Python's ``re.match`` lets a final
``\\n`` through ``$``)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from shieldwall.banks.schemas import BankCreate
from shieldwall.core.errors import InvalidInput
from shieldwall.exchanges import ingest
from shieldwall.exchanges.feed import parse_cursor
from shieldwall.exchanges.schemas import ExchangeCreate
from shieldwall.integrations.exchanges.base import SourceRecord


@pytest.mark.parametrize("name", ["NCMEC", "NCMEC\n"])
def test_a_bank_name_with_a_newline_is_refused(name: str) -> None:
    if name.endswith("\n"):
        with pytest.raises(ValidationError):
            BankCreate(name=name)
    else:
        assert BankCreate(name=name).name == name


@pytest.mark.parametrize("name", ["ncmec-industry", "ncmec-industry\n"])
def test_an_exchange_name_with_a_newline_is_refused(name: str) -> None:
    data = {"name": name, "type": "local_file", "bank": "B", "settings": {"path": "list.txt"}}
    if name.endswith("\n"):
        with pytest.raises(ValidationError, match="exchange names"):
            ExchangeCreate.model_validate(data)
    else:
        assert ExchangeCreate.model_validate(data).name == name


def test_a_feed_label_with_a_newline_is_quarantined() -> None:
    rules = ingest.Rules(name="B", labels=None, extra_labels=())
    records = [
        SourceRecord(record_id=f"r{n}", signals=(("md5", f"{n:032x}"),), labels=(label,))
        for n, label in enumerate(["A1", "A1\n"])
    ]
    checked = ingest.check_records(rules, records)
    assert [c.record_id for c in checked.records] == ["r0"]
    assert [r.record_id for r in checked.rejected] == ["r1"]


@pytest.mark.parametrize("cursor", ["0\n", "5.7\n"])
def test_a_feed_cursor_with_a_newline_is_refused(cursor: str) -> None:
    assert parse_cursor(cursor.strip()) is not None
    with pytest.raises(InvalidInput, match="cursor"):
        parse_cursor(cursor)
