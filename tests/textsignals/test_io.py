"""Term-list files with lines JSON reads in ways other than a plain decode error: each line
is rejected with its reason, the others imported, never an HTTP 500."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.textsignals.conftest import make_list

pytestmark = pytest.mark.db

GOOD = '{"kind": "term", "value": "zorblax", "category": "csam_seeking", "severity": "high"}'


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        # int() refuses more than 4,300 digits with a ValueError that is no JSONDecodeError
        ('{"kind": "term", "severity": ' + "9" * 5000 + "}", "more than 4,300 digits"),
        ("9" * 5000, "more than 4,300 digits"),
        # a key holding a lone surrogate was quoted as it is: the answer could not be encoded
        (GOOD[:-1] + ', "\\ud800": 1}', "unknown key(s) '\\ud800'"),
    ],
)
def test_a_line_json_reads_with_an_error_of_its_own_is_rejected(
    client: TestClient, integration: dict[str, str], line: str, reason: str
) -> None:
    make_list(client, integration, "terms", [])
    response = client.post(
        "/v1/term-lists/terms/import",
        headers=integration,
        files={"file": ("list.jsonl", f"{GOOD}\n{line}\n".encode(), "application/jsonl")},
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["added"], report["rejected"]) == (1, 1)
    assert report["rejections"][0]["line"] == 2
    assert reason in report["rejections"][0]["reason"]
