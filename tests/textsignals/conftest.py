"""Fixtures for the text-signals tests.

The term lists here use made-up stand-in words (``zorblax``, ``quuxfeed``...) in the
``csam_seeking`` and ``solicitation`` categories: they test the machinery, not real lists.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from shieldwall.apikeys.schemas import KeyKind
from shieldwall.core.access import INTEGRATION_SCOPES
from tests.conftest import KeyFactory, auth


@pytest.fixture
def integration(make_key: KeyFactory) -> dict[str, str]:
    """A platform's key: scan, banks:read, banks:write, ..."""
    return auth(make_key(sorted(INTEGRATION_SCOPES), kind=KeyKind.INTEGRATION))


def make_list(
    client: TestClient, headers: dict[str, str], name: str, entries: list[dict[str, Any]]
) -> None:
    r = client.post("/v1/term-lists", headers=headers, json={"name": name})
    assert r.status_code == 201, r.text
    if entries:
        r = client.post(f"/v1/term-lists/{name}/entries", headers=headers, json=entries)
        assert r.status_code == 200, r.text


@pytest.fixture
def lists(client: TestClient, integration: dict[str, str]) -> None:
    make_list(
        client,
        integration,
        "search_terms",
        [
            {"kind": "term", "value": "zorblax", "category": "csam_seeking", "severity": "high"},
            {
                "kind": "phrase",
                "value": "quux feed",
                "category": "csam_seeking",
                "severity": "medium",
            },
            {"kind": "term", "value": "flarnit", "category": "solicitation", "severity": "high"},
            {
                "kind": "url",
                "value": "http://bad.example/gallery/",
                "category": "csam_url",
                "severity": "high",
            },
            {
                "kind": "domain",
                "value": "worse.example",
                "category": "csam_url",
                "severity": "high",
            },
        ],
    )
