"""The scan and lookup API end to end: upload, hashes, verdicts, bank rules."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from shieldwall.core.hashing import REFERENCE_OPTIONS, hash_bytes
from shieldwall.db.base import utcnow
from tests.conftest import KeyFactory, auth
from tests.matching.conftest import image, needs_shared

pytestmark = needs_shared

ORIGINAL = "bridge-mods/aaa-orig.jpg"
BLURRED = "bridge-mods/blur-a-little.jpg"
UNRELATED = "reg-test-input/pen-and-coaster.png"


def pdq_of(name: str) -> str:
    media = hash_bytes(image(name), options=REFERENCE_OPTIONS)
    assert media.primary_pdq is not None
    return media.primary_pdq.hex


def make_bank(client: TestClient, key: str, name: str, **settings: Any) -> dict[str, Any]:
    response = client.post("/v1/banks", json={"name": name, **settings}, headers=auth(key))
    assert response.status_code == 201, response.text
    return dict(response.json())


def add(client: TestClient, key: str, bank: str, **entry: Any) -> int:
    response = client.post(f"/v1/banks/{bank}/entries", json=entry, headers=auth(key))
    assert response.status_code in (200, 201), response.text
    body = response.json()
    return int(body["items"][0]["id"])


def scan_file(client: TestClient, key: str, data: bytes, **headers: str) -> dict[str, Any]:
    response = client.post(
        "/v1/scan", files={"file": ("upload", data)}, headers={**auth(key), **headers}
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


@pytest.fixture
def key(make_key: KeyFactory) -> str:
    return make_key()


def test_known_image_is_blocked_and_near_duplicates_too(
    ready_client: TestClient, key: str, synced: Callable[[], None]
) -> None:
    c = ready_client
    make_bank(c, key, "KNOWN", labels=["A1", "B1"])
    entry = add(
        c,
        key,
        "KNOWN",
        signal_type="pdq",
        value=pdq_of(ORIGINAL),
        labels=["A1"],
        source_record_id="rec-1",
    )
    synced()

    same = scan_file(c, key, image(ORIGINAL))
    assert same["verdict"] == "block"
    assert same["media_kind"] == "photo"
    [match] = same["matches"]
    assert match["entry_id"] == entry
    assert match["bank"] == "KNOWN"
    assert match["labels"] == ["A1"]
    assert match["source_record_id"] == "rec-1"
    assert match["distance"] <= 10  # the fast path is within Meta's cross-decoder tolerance
    types = {h["signal_type"] for h in same["hashes"]}
    assert {"md5", "sha1", "sha256", "pdq"} <= types

    near = scan_file(c, key, image(BLURRED))
    assert near["verdict"] == "block"
    assert near["matches"][0]["distance"] <= 31

    other = scan_file(c, key, image(UNRELATED))
    assert other["verdict"] == "allow"
    assert other["matches"] == []


def test_allow_bank_wins_over_block_bank(
    ready_client: TestClient, key: str, synced: Callable[[], None]
) -> None:
    c = ready_client
    make_bank(c, key, "BLOCKED")
    make_bank(c, key, "KNOWN_FALSE_POSITIVES", kind="allow")
    value = pdq_of(ORIGINAL)
    add(c, key, "BLOCKED", signal_type="pdq", value=value)
    add(c, key, "KNOWN_FALSE_POSITIVES", signal_type="pdq", value=value)
    synced()
    result = scan_file(c, key, image(ORIGINAL))
    assert result["verdict"] == "allow"
    assert {m["bank"] for m in result["matches"]} == {"BLOCKED", "KNOWN_FALSE_POSITIVES"}
    assert [m["bank"] for m in result["suppressed"]] == ["BLOCKED"]


def test_review_action_and_per_bank_threshold(
    ready_client: TestClient, key: str, synced: Callable[[], None]
) -> None:
    c = ready_client
    make_bank(c, key, "STRICT", action="review", pdq_threshold=0)
    reference = pdq_of(ORIGINAL)
    add(c, key, "STRICT", signal_type="pdq", value=reference)
    synced()
    hashes = [{"signal_type": "pdq", "value": reference}]
    exact = c.post("/v1/lookup", json={"signals": hashes}, headers=auth(key)).json()
    assert exact["verdict"] == "review"
    blurred = pdq_of(BLURRED)
    assert blurred != reference
    near = c.post(
        "/v1/lookup",
        json={"signals": [{"signal_type": "pdq", "value": blurred}]},
        headers=auth(key),
    ).json()
    assert near["verdict"] == "allow"  # within 31 but beyond this bank's threshold of 0


def test_exact_hash_of_any_file(
    ready_client: TestClient, key: str, synced: Callable[[], None]
) -> None:
    c = ready_client
    data = b"%PDF-1.4 not an image at all\n" * 20
    media = hash_bytes(data)
    make_bank(c, key, "FILES")
    add(c, key, "FILES", signal_type="md5", value=media.md5.upper())  # normalised on the way in
    synced()
    result = scan_file(c, key, data)
    assert result["media_kind"] == "other"
    assert result["verdict"] == "block"
    assert result["matches"][0]["signal_type"] == "md5"


def test_disabled_and_removed_entries_and_disabled_banks_do_not_match(
    ready_client: TestClient, key: str, synced: Callable[[], None]
) -> None:
    c = ready_client
    value = pdq_of(ORIGINAL)
    lookup = {"signals": [{"signal_type": "pdq", "value": value}]}
    make_bank(c, key, "LATER")
    later = (utcnow() + timedelta(days=1)).isoformat()
    add(c, key, "LATER", signal_type="pdq", value=value, disabled_until=later)
    make_bank(c, key, "GONE")
    gone = add(c, key, "GONE", signal_type="pdq", value=value)
    make_bank(c, key, "OFF", enabled=False)
    add(c, key, "OFF", signal_type="pdq", value=value)
    synced()
    first = c.post("/v1/lookup", json=lookup, headers=auth(key)).json()
    assert [m["bank"] for m in first["matches"]] == ["GONE"]
    assert c.delete(f"/v1/banks/GONE/entries/{gone}", headers=auth(key)).status_code in (200, 204)
    synced()
    after = c.post("/v1/lookup", json=lookup, headers=auth(key)).json()
    assert after["matches"] == []
    assert after["verdict"] == "allow"


def test_dihedral_matching_is_switched_per_bank(
    ready_client: TestClient, key: str, synced: Callable[[], None]
) -> None:
    c = ready_client
    rotated = "reg-test-input/dih/bridge-2-rotate-90.jpg"
    make_bank(c, key, "PLAIN")
    make_bank(c, key, "TURNED", dihedral=True)
    value = pdq_of("reg-test-input/dih/bridge-1-original.jpg")
    add(c, key, "PLAIN", signal_type="pdq", value=value)
    add(c, key, "TURNED", signal_type="pdq", value=value)
    synced()
    result = scan_file(c, key, image(rotated))
    assert [m["bank"] for m in result["matches"]] == ["TURNED"]
    assert result["matches"][0]["query_variant"] != "original"


def jpeg_of(picture: Image.Image) -> bytes:
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=90)
    return out.getvalue()


@pytest.mark.parametrize("size", [256, 1024])
def test_a_turned_upload_of_a_common_size_is_found_in_a_dihedral_bank(
    ready_client: TestClient, key: str, synced: Callable[[], None], size: int
) -> None:
    """Thumbnails and camera sizes (256, 1024 px) are where the DCT shortcut for turned
    variants missed: the upright picture's hash was 30-66 bits from every variant."""
    c = ready_client
    photo = image("reg-test-input/labelme-subset/q0122.jpg")
    upright = Image.open(io.BytesIO(photo)).convert("RGB").resize((size, size))
    upright_pdq = hash_bytes(jpeg_of(upright)).primary_pdq
    assert upright_pdq is not None
    make_bank(c, key, "TURNED", dihedral=True)
    add(c, key, "TURNED", signal_type="pdq", value=upright_pdq.hex)
    synced()
    for turn in (Image.Transpose.ROTATE_90, Image.Transpose.FLIP_LEFT_RIGHT):
        result = scan_file(c, key, jpeg_of(upright.transpose(turn)))
        assert [m["bank"] for m in result["matches"]] == ["TURNED"], turn
        assert result["matches"][0]["query_variant"] != "original"
        assert result["verdict"] == "block"


def test_low_quality_query_hashes_are_reported_not_matched(
    ready_client: TestClient, key: str, synced: Callable[[], None]
) -> None:
    c = ready_client
    value = pdq_of(ORIGINAL)
    make_bank(c, key, "KNOWN")
    add(c, key, "KNOWN", signal_type="pdq", value=value)
    synced()
    result = c.post(
        "/v1/lookup",
        json={"signals": [{"signal_type": "pdq", "value": value, "quality": 20}]},
        headers=auth(key),
    ).json()
    assert result["low_quality"] is True
    assert result["matches"] == []


def test_idempotent_scan_answers_the_same_and_counts_once(
    ready_client: TestClient, key: str, synced: Callable[[], None], admin_key: str
) -> None:
    c = ready_client
    make_bank(c, key, "KNOWN")
    add(c, key, "KNOWN", signal_type="pdq", value=pdq_of(ORIGINAL))
    synced()
    data = image(ORIGINAL)
    first = c.post(
        "/v1/scan",
        files={"file": ("a.jpg", data)},
        headers={**auth(key), "Idempotency-Key": "upload-123"},
    )
    second = c.post(
        "/v1/scan",
        files={"file": ("a.jpg", data)},
        headers={**auth(key), "Idempotency-Key": "upload-123"},
    )
    assert first.status_code == second.status_code == 200
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert first.json() == second.json()
    events = c.get("/v1/events?kind=scan.completed", headers=auth(admin_key)).json()["items"]
    assert len(events) == 1
    assert events[0]["subject"] == f"scan:{first.json()['scan_id']}"
    assert events[0]["principles"] == [1]
    other = c.post(
        "/v1/scan",
        files={"file": ("b.png", image(UNRELATED))},
        headers={**auth(key), "Idempotency-Key": "upload-123"},
    )
    assert other.status_code == 409


def test_scan_events_carry_counts_not_hashes(
    ready_client: TestClient, key: str, admin_key: str
) -> None:
    c = ready_client
    result = scan_file(c, key, image(ORIGINAL))
    events = c.get("/v1/events?kind=scan.completed", headers=auth(admin_key)).json()["items"]
    text = str(events)
    for h in result["hashes"]:
        assert h["value"] not in text


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        ({"signals": [{"signal_type": "pdq", "value": "ab" * 16}]}, 422, "64 hex"),
        ({"signals": [{"signal_type": "pdq", "value": "zz" * 32}]}, 422, "hex"),
        ({"signals": [{"signal_type": "photodna", "value": "00"}]}, 422, "unknown signal_type"),
        ({"signals": []}, 422, "signals"),
        ({"signals": [{"signal_type": "md5", "value": "0" * 31}]}, 422, "md5"),
    ],
)
def test_bad_hashes_are_refused_clearly(
    ready_client: TestClient, key: str, body: dict[str, Any], status: int, fragment: str
) -> None:
    response = ready_client.post("/v1/lookup", json=body, headers=auth(key))
    assert response.status_code == status
    assert fragment in response.json()["detail"]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (image(ORIGINAL)[:5000], "truncated"),
    ],
)
def test_bad_media_is_a_clear_422(
    ready_client: TestClient, key: str, data: bytes, reason: str
) -> None:
    response = ready_client.post("/v1/scan", files={"file": ("x.jpg", data)}, headers=auth(key))
    assert response.status_code == 422
    body = response.json()
    assert body["type"].startswith("/problems/")
    assert reason in (body.get("reason", "") + body["detail"])


def test_declared_type_must_match_the_bytes(ready_client: TestClient, key: str) -> None:
    response = ready_client.post(
        "/v1/scan",
        files={"file": ("x.mp4", image(ORIGINAL))},
        data={"media_type": "video/mp4"},
        headers=auth(key),
    )
    assert response.status_code == 422
    assert "type_mismatch" in response.text or "does not match" in response.text


def test_oversized_upload_is_413(ready_client: TestClient, key: str, app: Any) -> None:
    app.state.settings.scan_max_bytes = 10_000
    big = io.BytesIO()
    Image.new("RGB", (600, 600), (10, 200, 30)).save(big, "PNG")
    noise = bytes(range(256)) * 200
    response = ready_client.post(
        "/v1/scan", files={"file": ("x.bin", noise + big.getvalue())}, headers=auth(key)
    )
    assert response.status_code == 413


def test_scan_needs_the_scan_scope(ready_client: TestClient, make_key: KeyFactory) -> None:
    from shieldwall.core.access import Scope

    reader = make_key([Scope.BANKS_READ])
    response = ready_client.post(
        "/v1/lookup",
        json={"signals": [{"signal_type": "md5", "value": "0" * 32}]},
        headers=auth(reader),
    )
    assert response.status_code == 403


def test_a_one_colour_picture_is_low_quality_but_exact_hashes_still_match(
    ready_client: TestClient, key: str, synced: Callable[[], None]
) -> None:
    c = ready_client
    out = io.BytesIO()
    Image.new("RGB", (300, 200), (40, 40, 40)).save(out, "PNG")
    data = out.getvalue()
    make_bank(c, key, "FILES")
    add(c, key, "FILES", signal_type="sha256", value=hashlib.sha256(data).hexdigest())
    synced()
    result = scan_file(c, key, data)
    assert result["low_quality"] is True
    assert result["verdict"] == "block"
    assert [m["signal_type"] for m in result["matches"]] == ["sha256"]
    assert "pdq" not in {h["signal_type"] for h in result["hashes"]}


def test_an_idempotency_key_expires_after_its_ttl(
    ready_client: TestClient, key: str, app: Any, db: Any
) -> None:
    from sqlalchemy import func, select, update

    from shieldwall.matching.models import ScanRequest

    c = ready_client
    body = {"hashes": [{"signal_type": "md5", "value": "0" * 32}]}
    first = c.post("/v1/scan", json=body, headers={**auth(key), "Idempotency-Key": "k-1"})
    assert first.status_code == 200
    with db.session() as s:  # age the stored answer past the TTL
        s.execute(update(ScanRequest).values(created_at=utcnow() - timedelta(hours=25)))
    again = c.post("/v1/scan", json=body, headers={**auth(key), "Idempotency-Key": "k-1"})
    assert again.status_code == 200
    assert again.headers.get("Idempotent-Replayed") is None
    assert again.json()["scan_id"] != first.json()["scan_id"]
    with db.session() as s:  # the expired answer was purged, the new one kept
        assert s.scalar(select(func.count()).select_from(ScanRequest)) == 1
