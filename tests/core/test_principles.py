import csv
from pathlib import Path

import pytest

from shieldwall.core.principles import PRINCIPLES, get_principle, validate_principles

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "commitments" / "principles.csv"


def test_eleven_principles_numbered_in_order() -> None:
    assert [p.number for p in PRINCIPLES] == list(range(1, 12))
    assert all(p.wording and p.short_name and p.theme for p in PRINCIPLES)


@pytest.mark.skipif(not SHARED.exists(), reason="shared reference data not beside the checkout")
def test_wording_matches_the_reference_table() -> None:
    rows = {int(r["number"]): r for r in csv.DictReader(SHARED.open())}
    for p in PRINCIPLES:
        row = rows[p.number]
        assert p.wording == row["wording"]
        assert p.theme == row["theme"]
        assert p.wording_verified == (row["wording_verified"] == "true")


def test_lookup_and_validation() -> None:
    assert get_principle(6).short_name == "Search and suggestions"
    with pytest.raises(KeyError):
        get_principle(12)
    assert validate_principles((3, 1, 3)) == (1, 3)
    with pytest.raises(ValueError, match=r"\[0, 12\]"):
        validate_principles((0, 1, 12))
