"""The HMA-compatible API against the shapes of Meta's Hasher-Matcher-Actioner.

Reference: facebook/ThreatExchange ``hasher-matcher-actioner/src/OpenMediaMatch/``:
``blueprints/hashing.py`` (``/h/hash``), ``blueprints/matching.py`` (``/m/lookup``,
``/m/raw_lookup``; distances are ``SignalSimilarityInfo.pretty_str()`` strings),
``blueprints/curation.py`` (``/c/banks``) and ``app.py`` (``/status``). Where shieldwall
differs on purpose (API key, problem details, errors for unknown banks) docs/hma.md says so
and the tests here pin the documented behaviour.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from shieldwall.core.access import Scope
from shieldwall.core.hashing import HashOptions, hash_bytes
from shieldwall.core.signals import PdqHash, VpdqHash
from shieldwall.matching.index import IndexState, MatchIndex
from tests.api.problem_check import assert_problem
from tests.conftest import KeyFactory, LiveServer, auth
from tests.core.hashing.media_samples import small_video
from tests.matching.conftest import image, needs_shared

pytestmark = needs_shared

ORIGINAL = "bridge-mods/aaa-orig.jpg"
BLURRED = "bridge-mods/blur-a-little.jpg"
UNRELATED = "reg-test-input/pen-and-coaster.png"
#: python-threatexchange's PdqSignal example for aaa-orig.jpg (pdq-reference/expected.csv).
PYTX_ORIGINAL = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"


def server_pdq(name: str) -> str:
    """The PDQ the server computes for an upload (its production hashing options)."""
    media = hash_bytes(image(name), declared_type="photo", options=HashOptions())
    assert media.primary_pdq is not None
    return media.primary_pdq.hex


def make_bank(client: TestClient, key: str, name: str, **settings: Any) -> None:
    response = client.post("/v1/banks", json={"name": name, **settings}, headers=auth(key))
    assert response.status_code == 201, response.text


def add(client: TestClient, key: str, bank: str, signal_type: str, value: str) -> int:
    response = client.post(
        f"/v1/banks/{bank}/entries",
        json={"signal_type": signal_type, "value": value},
        headers=auth(key),
    )
    assert response.status_code in (200, 201), response.text
    return int(response.json()["items"][0]["id"])


@pytest.fixture
def key(make_key: KeyFactory) -> str:
    return make_key()


@pytest.fixture
def video() -> bytes:
    return small_video(frames=16, size=(128, 96), fps=4)


# ---- /h/hash -------------------------------------------------------------------------------


def test_hash_a_photo_answers_pdq_only(ready_client: TestClient, key: str) -> None:
    response = ready_client.post(
        "/h/hash", files={"photo": ("aaa-orig.jpg", image(ORIGINAL))}, headers=auth(key)
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert list(body) == ["pdq"]
    assert body["pdq"] == server_pdq(ORIGINAL)
    # and it is the hash Meta's tools give, within their cross-decoder tolerance
    assert PdqHash(body["pdq"]).distance(PYTX_ORIGINAL) <= 10


def test_hash_a_video_answers_video_md5_and_vpdq(
    ready_client: TestClient, key: str, video: bytes
) -> None:
    response = ready_client.post("/h/hash", files={"video": ("clip.mp4", video)}, headers=auth(key))
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"video_md5", "vpdq"}
    assert body["video_md5"] == hashlib.md5(video, usedforsecurity=False).hexdigest()
    # pytx's vpdq serialisation: a JSON list of "<pdq hex>,<quality>,<timestamp>" strings
    frames = json.loads(body["vpdq"])
    assert frames
    assert all(isinstance(f, str) and len(f.split(",")) == 3 for f in frames)
    assert VpdqHash.parse(body["vpdq"]).to_signal_str() == body["vpdq"]


@pytest.mark.parametrize(
    ("field", "types", "expected"),
    [
        ("photo", "pdq", {"pdq"}),
        ("video", "video_md5", {"video_md5"}),
        ("video", "vpdq", {"vpdq"}),
        ("video", "vpdq,video_md5", {"vpdq", "video_md5"}),
    ],
)
def test_types_picks_the_signal_types(
    ready_client: TestClient,
    key: str,
    video: bytes,
    field: str,
    types: str,
    expected: set[str],
) -> None:
    data = image(ORIGINAL) if field == "photo" else video
    response = ready_client.post(
        f"/h/hash?types={types}", files={field: ("upload", data)}, headers=auth(key)
    )
    assert response.status_code == 200, response.text
    assert set(response.json()) == expected


@pytest.mark.parametrize("types", ["vpdq", "md5", "pdq,nonsense", ","])
def test_types_that_do_not_apply_are_refused(
    ready_client: TestClient, key: str, types: str
) -> None:
    response = ready_client.post(
        "/h/hash",
        params={"types": types},
        files={"photo": ("a.jpg", image(ORIGINAL))},
        headers=auth(key),
    )
    body = assert_problem(response, 422, "invalid-input")
    assert "photo" in body["detail"]


def test_an_unknown_content_type_field_is_refused(ready_client: TestClient, key: str) -> None:
    response = ready_client.post(
        "/h/hash", files={"image": ("a.jpg", image(ORIGINAL))}, headers=auth(key)
    )
    body = assert_problem(response, 422, "invalid-input")
    assert "'image'" in body["detail"]
    assert "photo or video" in body["detail"]


@pytest.mark.parametrize(
    "fields", [("photo", "photo"), ("photo", "video")], ids=["same-field", "two-fields"]
)
def test_two_files_in_one_request_are_refused(
    ready_client: TestClient, key: str, fields: tuple[str, str]
) -> None:
    files = [(name, (f"f{i}.jpg", image(ORIGINAL))) for i, name in enumerate(fields)]
    response = ready_client.post("/h/hash", files=files, headers=auth(key))
    body = assert_problem(response, 400, "bad-request")
    assert "1" in body["detail"]  # "Maximum number of files is 1"


def test_no_file_is_refused(ready_client: TestClient, key: str) -> None:
    response = ready_client.post("/h/hash", data={"photo": "not a file"}, headers=auth(key))
    body = assert_problem(response, 422, "invalid-input")
    assert "multipart file" in body["detail"]


def test_an_undecodable_photo_is_a_problem_not_a_crash(ready_client: TestClient, key: str) -> None:
    response = ready_client.post(
        "/h/hash", files={"photo": ("a.jpg", image(ORIGINAL)[:4000])}, headers=auth(key)
    )
    assert_problem(response, 422, "invalid-input")


# ---- /m/lookup, /m/raw_lookup ------------------------------------------------------------------


@pytest.fixture
def banked(ready_client: TestClient, key: str, synced: Callable[[], None]) -> dict[str, Any]:
    """Two banks holding the original's PDQ, and one disabled bank holding it too."""
    c = ready_client
    value = server_pdq(ORIGINAL)
    make_bank(c, key, "HMA_A")
    make_bank(c, key, "HMA_B")
    make_bank(c, key, "HMA_OFF", enabled=False)
    ids = {
        "HMA_A": add(c, key, "HMA_A", "pdq", value),
        "HMA_B": add(c, key, "HMA_B", "pdq", value),
        "HMA_OFF": add(c, key, "HMA_OFF", "pdq", value),
    }
    synced()
    return {"value": value, "ids": ids}


def test_lookup_answers_matches_by_bank_with_string_distances(
    ready_client: TestClient, key: str, banked: dict[str, Any]
) -> None:
    ids = banked["ids"]
    response = ready_client.get(
        "/m/lookup", params={"signal_type": "pdq", "signal": banked["value"]}, headers=auth(key)
    )
    assert response.status_code == 200, response.text
    assert response.json() == {
        "HMA_A": [{"bank_content_id": ids["HMA_A"], "distance": "0"}],
        "HMA_B": [{"bank_content_id": ids["HMA_B"], "distance": "0"}],
    }


def test_lookup_distance_is_the_hamming_distance_as_a_string(
    ready_client: TestClient, key: str, banked: dict[str, Any]
) -> None:
    near = server_pdq(BLURRED)
    expected = PdqHash(near).distance(banked["value"])
    assert 0 < expected <= 31
    body = ready_client.get(
        "/m/lookup",
        params={"signal_type": "pdq", "signal": near, "banks": "HMA_A"},
        headers=auth(key),
    ).json()
    assert body == {
        "HMA_A": [{"bank_content_id": banked["ids"]["HMA_A"], "distance": str(expected)}]
    }


def test_lookup_with_no_match_is_an_empty_object(
    ready_client: TestClient, key: str, banked: dict[str, Any]
) -> None:
    response = ready_client.get(
        "/m/lookup",
        params={"signal_type": "pdq", "signal": server_pdq(UNRELATED)},
        headers=auth(key),
    )
    assert response.status_code == 200
    assert response.json() == {}


@pytest.mark.parametrize(
    ("banks", "expected"),
    [
        ("HMA_A", {"HMA_A"}),
        ("HMA_B", {"HMA_B"}),
        ("HMA_A,HMA_B", {"HMA_A", "HMA_B"}),
        ("HMA_OFF", set()),  # a disabled bank never matches, even when asked for
    ],
)
def test_the_banks_filter(
    ready_client: TestClient,
    key: str,
    banked: dict[str, Any],
    banks: str,
    expected: set[str],
) -> None:
    params = {"signal_type": "pdq", "signal": banked["value"], "banks": banks}
    by_bank = ready_client.get("/m/lookup", params=params, headers=auth(key)).json()
    assert set(by_bank) == expected
    raw = ready_client.get("/m/raw_lookup", params=params, headers=auth(key)).json()
    assert sorted(raw["matches"]) == sorted(banked["ids"][b] for b in expected)


def test_an_unknown_bank_in_the_filter_is_a_problem(
    ready_client: TestClient, key: str, banked: dict[str, Any]
) -> None:
    # HMA silently intersects; shieldwall names the typo (docs/hma.md)
    response = ready_client.get(
        "/m/lookup",
        params={"signal_type": "pdq", "signal": banked["value"], "banks": "HMA_A,NO_SUCH"},
        headers=auth(key),
    )
    body = assert_problem(response, 422, "invalid-input")
    assert "NO_SUCH" in body["detail"]


def test_raw_lookup_answers_ids_or_ids_with_distances(
    ready_client: TestClient, key: str, banked: dict[str, Any]
) -> None:
    ids = banked["ids"]
    params = {"signal_type": "pdq", "signal": banked["value"]}
    plain = ready_client.get("/m/raw_lookup", params=params, headers=auth(key))
    assert plain.status_code == 200
    assert set(plain.json()) == {"matches"}
    # the disabled bank's entry is left out (HMA's raw_lookup would list it; docs/hma.md)
    assert sorted(plain.json()["matches"]) == sorted([ids["HMA_A"], ids["HMA_B"]])
    assert all(isinstance(i, int) for i in plain.json()["matches"])

    detailed = ready_client.get(
        "/m/raw_lookup", params={**params, "include_distance": "true"}, headers=auth(key)
    ).json()
    assert sorted(detailed["matches"], key=lambda m: m["bank_content_id"]) == [
        {"bank_content_id": ids["HMA_A"], "distance": "0"},
        {"bank_content_id": ids["HMA_B"], "distance": "0"},
    ]


def test_lookup_by_upload_answers_by_signal_type_then_bank(
    ready_client: TestClient, key: str, banked: dict[str, Any]
) -> None:
    ids = banked["ids"]
    response = ready_client.post(
        "/m/lookup", files={"photo": ("a.jpg", image(ORIGINAL))}, headers=auth(key)
    )
    assert response.status_code == 200, response.text
    assert response.json() == {
        "pdq": {
            "HMA_A": [{"bank_content_id": ids["HMA_A"], "distance": "0"}],
            "HMA_B": [{"bank_content_id": ids["HMA_B"], "distance": "0"}],
        }
    }
    filtered = ready_client.post(
        "/m/lookup?banks=HMA_B", files={"photo": ("a.jpg", image(ORIGINAL))}, headers=auth(key)
    ).json()
    assert filtered == {"pdq": {"HMA_B": [{"bank_content_id": ids["HMA_B"], "distance": "0"}]}}
    other = ready_client.post(
        "/m/lookup", files={"photo": ("b.png", image(UNRELATED))}, headers=auth(key)
    ).json()
    assert other == {"pdq": {}}


def test_lookup_by_video_upload_uses_hma_distance_strings(
    ready_client: TestClient, key: str, synced: Callable[[], None], video: bytes
) -> None:
    """HMA answers vPDQ distances as ``VPDQSimilarityInfo.pretty_str()``:
    ``"<query %>%[<compared %>%]"``, e.g. ``"100%[100%]"``; video_md5 as ``"0"``."""
    hashes = ready_client.post(
        "/h/hash", files={"video": ("clip.mp4", video)}, headers=auth(key)
    ).json()
    make_bank(ready_client, key, "VIDEOS")
    md5_id = add(ready_client, key, "VIDEOS", "video_md5", hashes["video_md5"])
    vpdq_id = add(ready_client, key, "VIDEOS", "vpdq", hashes["vpdq"])
    synced()
    response = ready_client.post(
        "/m/lookup", files={"video": ("clip.mp4", video)}, headers=auth(key)
    )
    assert response.status_code == 200, response.text
    assert response.json() == {
        "video_md5": {"VIDEOS": [{"bank_content_id": md5_id, "distance": "0"}]},
        "vpdq": {"VIDEOS": [{"bank_content_id": vpdq_id, "distance": "100%[100%]"}]},
    }


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"signal_type": "pdq", "signal": "zz" * 32}, "hex"),
        ({"signal_type": "pdq", "signal": "ab" * 16}, "64 hex"),
        ({"signal_type": "photodna", "signal": "00"}, "unknown signal_type"),
        ({"signal_type": "pdq"}, "signal"),
        ({"signal": "ab" * 32}, "signal_type"),
    ],
)
@pytest.mark.parametrize("path", ["/m/lookup", "/m/raw_lookup"])
def test_bad_signals_are_problems(
    ready_client: TestClient, key: str, path: str, params: dict[str, str], fragment: str
) -> None:
    response = ready_client.get(path, params=params, headers=auth(key))
    body = assert_problem(response, 422, "invalid-input")
    assert fragment in body["detail"]


# ---- /c/banks, /status -------------------------------------------------------------------------


def test_banks_lists_names_and_matching_enabled_ratio(ready_client: TestClient, key: str) -> None:
    c = ready_client
    make_bank(c, key, "ZED")
    make_bank(c, key, "ALPHA", enabled=False)
    make_bank(c, key, "GONE")
    assert c.delete("/v1/banks/GONE", headers=auth(key)).status_code == 200
    response = c.get("/c/banks", headers=auth(key))
    assert response.status_code == 200
    assert response.json() == [
        {"name": "ALPHA", "matching_enabled_ratio": 0.0},
        {"name": "ZED", "matching_enabled_ratio": 1.0},
    ]


def test_banks_needs_only_the_banks_read_scope(
    ready_client: TestClient, make_key: KeyFactory
) -> None:
    reader = make_key([Scope.BANKS_READ])
    assert ready_client.get("/c/banks", headers=auth(reader)).status_code == 200
    lookup = ready_client.get(
        "/m/lookup", params={"signal_type": "pdq", "signal": "ab" * 32}, headers=auth(reader)
    )
    assert_problem(lookup, 403, "permission-denied")


def test_status_is_i_am_alive_exactly_as_hma(ready_client: TestClient) -> None:
    response = ready_client.get("/status")  # no key: load balancers call it
    assert response.status_code == 200
    assert response.text == "I-AM-ALIVE"  # HMA's own test: response.data == b"I-AM-ALIVE"


def test_status_is_503_while_the_index_is_loading_or_stale(
    ready_client: TestClient,
) -> None:
    index: MatchIndex = ready_client.app.state.match_index  # type: ignore[attr-defined]
    index.stop(save=False)
    index.state = IndexState.LOADING
    loading = ready_client.get("/status")
    assert loading.status_code == 503
    assert loading.text.startswith("INDEX-")
    assert "I-AM-ALIVE" not in loading.text

    index.state = IndexState.READY
    index.last_sync = time.monotonic() - 10_000
    stale = ready_client.get("/status")
    assert stale.status_code == 503
    assert "stale" in stale.text

    index.sync()
    assert ready_client.get("/status").status_code == 200


# ---- authentication ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("POST", "/h/hash", {"files": {"photo": ("a.jpg", b"\xff\xd8")}}),
        ("GET", "/h/hash", {"params": {"url": "https://media.example/a.jpg"}}),
        ("GET", "/m/lookup", {"params": {"signal_type": "pdq", "signal": "ab" * 32}}),
        ("POST", "/m/lookup", {"files": {"photo": ("a.jpg", b"\xff\xd8")}}),
        ("GET", "/m/raw_lookup", {"params": {"signal_type": "pdq", "signal": "ab" * 32}}),
        ("GET", "/c/banks", {}),
    ],
)
@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer sw_notakey_0000"}, {"Authorization": "Basic dXNlcjpwdw=="}],
    ids=["none", "wrong-key", "not-bearer"],
)
def test_every_hma_endpoint_but_status_needs_an_api_key(
    ready_client: TestClient,
    method: str,
    path: str,
    kwargs: dict[str, Any],
    headers: dict[str, str],
) -> None:
    response = ready_client.request(method, path, headers=headers, **kwargs)
    assert_problem(response, 401, "authentication-required")
    assert response.headers.get("www-authenticate") == "Bearer"


# ---- an HMA client over real HTTP -------------------------------------------------------------


def test_an_hma_client_works_over_http(live_server: LiveServer, make_key: KeyFactory) -> None:
    """Only HMA request forms, as an existing HMA integration sends them, plus the
    Authorization header. Banks are set up through shieldwall's own API first."""
    key = make_key()
    with httpx.Client(base_url=live_server.url, timeout=10) as setup:
        assert (
            setup.post("/v1/banks", json={"name": "HMA_CLIENT_BANK"}, headers=auth(key)).status_code
            == 201
        )
        value = server_pdq(ORIGINAL)
        added = setup.post(
            "/v1/banks/HMA_CLIENT_BANK/entries",
            json={"signal_type": "pdq", "value": value},
            headers=auth(key),
        )
        assert added.status_code in (200, 201), added.text
        entry_id = added.json()["items"][0]["id"]

    hma = httpx.Client(
        base_url=live_server.url, headers={"Authorization": f"Bearer {key}"}, timeout=10
    )
    with hma:
        deadline = time.monotonic() + 10
        while hma.get("/status").status_code != 200:
            assert time.monotonic() < deadline, "the server never became ready"
            time.sleep(0.1)

        banks = hma.get("/c/banks").json()
        assert {"name": "HMA_CLIENT_BANK", "matching_enabled_ratio": 1.0} in banks

        hashed = hma.post("/h/hash", files={"photo": ("upload.jpg", image(ORIGINAL), "image/jpeg")})
        assert hashed.status_code == 200, hashed.text
        pdq = hashed.json()["pdq"]
        assert pdq == value

        deadline = time.monotonic() + 10
        while True:  # the entry reaches this process's index at its next poll
            found = hma.get("/m/raw_lookup", params={"signal_type": "pdq", "signal": pdq})
            assert found.status_code == 200, found.text
            if found.json()["matches"]:
                break
            assert time.monotonic() < deadline, "the new entry never matched"
            time.sleep(0.1)
        assert found.json() == {"matches": [entry_id]}

        lookup = hma.get("/m/lookup", params={"signal_type": "pdq", "signal": pdq})
        assert lookup.json() == {
            "HMA_CLIENT_BANK": [{"bank_content_id": entry_id, "distance": "0"}]
        }
        distances = hma.get(
            "/m/raw_lookup",
            params={"signal_type": "pdq", "signal": pdq, "include_distance": "true"},
        ).json()
        assert distances == {"matches": [{"bank_content_id": entry_id, "distance": "0"}]}
        by_upload = hma.post(
            "/m/lookup",
            params={"banks": "HMA_CLIENT_BANK"},
            files={"photo": ("upload.jpg", image(ORIGINAL), "image/jpeg")},
        ).json()
        assert by_upload == {
            "pdq": {"HMA_CLIENT_BANK": [{"bank_content_id": entry_id, "distance": "0"}]}
        }

        anonymous = httpx.get(
            f"{live_server.url}/m/lookup", params={"signal_type": "pdq", "signal": pdq}
        )
        assert anonymous.status_code == 401
