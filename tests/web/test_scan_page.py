"""The "scan a file" page: a real upload through the form, the verdict, no stored media."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from shieldwall.core.access import Role
from shieldwall.db.engine import Database
from tests.conftest import PASSWORD, make_user
from tests.web.html_forms import login, parse

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "pdq-reference"
pytestmark = pytest.mark.skipif(not SHARED.exists(), reason="shared reference data missing")


def logged_in(client: TestClient, db: Database, role: Role) -> TestClient:
    make_user(db, f"u-{role.value}", role)
    assert login(client, f"u-{role.value}", PASSWORD).status_code == 303
    return client


def scan_token(client: TestClient) -> str:
    token = parse(client.get("/scan").text).form_to("/scan").hidden("csrf_token")
    assert token
    return token


def test_reviewer_scans_a_file_and_sees_hashes_not_media(client: TestClient, db: Database) -> None:
    c = logged_in(client, db, Role.REVIEWER)
    assert c.get("/scan").status_code == 200
    token = scan_token(c)
    data = (SHARED / "bridge-mods/aaa-orig.jpg").read_bytes()
    response = c.post(
        "/scan", data={"csrf_token": token}, files={"file": ("bridge.jpg", data, "image/jpeg")}
    )
    assert response.status_code == 200
    doc = parse(response.text)
    assert doc.text_of("verdict") == "allow"  # no banks yet
    assert "<img" not in response.text
    assert "pdq" in response.text
    assert response.headers["cache-control"] == "no-store"
    # a reload re-sends the same form: refused, not counted twice
    again = c.post(
        "/scan", data={"csrf_token": token}, files={"file": ("bridge.jpg", data, "image/jpeg")}
    )
    assert again.status_code == 403


def test_analyst_cannot_scan(client: TestClient, db: Database) -> None:
    c = logged_in(client, db, Role.ANALYST)
    assert c.get("/scan").status_code == 403


def test_corrupt_upload_shows_the_reason(client: TestClient, db: Database) -> None:
    c = logged_in(client, db, Role.ADMIN)
    token = scan_token(c)
    response = c.post(
        "/scan",
        data={"csrf_token": token},
        files={"file": ("x.jpg", b"\xff\xd8\xff\xe0garbage", "image/jpeg")},
    )
    assert response.status_code == 422
    assert 'role="alert"' in response.text
