"""The /v1/banks API: who may call what, CRUD, entries, import and export."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from shieldwall.api import create_app
from shieldwall.apikeys.schemas import KeyKind
from shieldwall.config import Settings
from shieldwall.core.access import INTEGRATION_SCOPES, ROLE_SCOPES, Role, Scope
from shieldwall.db.engine import Database
from tests.api.problem_check import assert_problem
from tests.banks.conftest import entries_of, md5_of, pdq_of, vpdq_of
from tests.conftest import KeyFactory, auth, make_user

pytestmark = pytest.mark.db

CSV_HEADER = "signal_type,value,labels,source_record_id,quality\n"


@pytest.fixture
def writer(make_key: KeyFactory) -> dict[str, str]:
    """An integration key, as a platform's servers hold: banks:read and banks:write."""
    return auth(make_key(sorted(INTEGRATION_SCOPES), kind=KeyKind.INTEGRATION))


@pytest.fixture
def bank(client: TestClient, writer: dict[str, str]) -> dict[str, Any]:
    response = client.post(
        "/v1/banks",
        headers=writer,
        json={"name": "NCMEC_CSAM", "labels": ["A1", "A2", "B1", "B2"], "description": "test list"},
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def add(client: TestClient, headers: dict[str, str], body: Any, name: str = "NCMEC_CSAM") -> Any:
    return client.post(f"/v1/banks/{name}/entries", headers=headers, json=body)


# ---- access --------------------------------------------------------------------------------


@pytest.mark.usefixtures("bank")
def test_readers_read_and_only_writers_write(
    client: TestClient, make_key: KeyFactory, db: Database
) -> None:
    reviewer = make_user(db, "rita", Role.REVIEWER)
    analyst = make_user(db, "ana", Role.ANALYST)
    for person in (reviewer, analyst):
        key = auth(make_key(sorted(ROLE_SCOPES[Role(person.role)]), owner=person))
        assert client.get("/v1/banks", headers=key).status_code == 200
        assert client.get("/v1/banks/NCMEC_CSAM/entries", headers=key).status_code == 200
        assert client.get("/v1/banks/NCMEC_CSAM/export", headers=key).status_code == 200
        body = assert_problem(
            add(client, key, {"signal_type": "md5", "value": md5_of(1)}),
            403,
            "permission-denied",
        )
        assert body["required_scope"] == "banks:write"
        assert_problem(
            client.post("/v1/banks", headers=key, json={"name": "X"}), 403, "permission-denied"
        )
        assert_problem(client.delete("/v1/banks/NCMEC_CSAM", headers=key), 403, "permission-denied")
    scan_only = auth(make_key([Scope.SCAN], kind=KeyKind.INTEGRATION))
    body = assert_problem(client.get("/v1/banks", headers=scan_only), 403, "permission-denied")
    assert body["required_scope"] == "banks:read"
    assert_problem(client.get("/v1/banks"), 401, "authentication-required")


def test_integration_key_may_hold_both_bank_scopes(
    client: TestClient, writer: dict[str, str]
) -> None:
    me = client.get("/v1/me", headers=writer).json()
    assert {"banks:read", "banks:write"} <= set(me["scopes"])
    assert client.post("/v1/banks", headers=writer, json={"name": "MINE"}).status_code == 201
    assert client.get("/v1/banks/MINE", headers=writer).status_code == 200


# ---- banks ---------------------------------------------------------------------------------


def test_create_get_list_update_delete(
    client: TestClient, writer: dict[str, str], bank: dict[str, Any], db: Database
) -> None:
    assert bank["name"] == "NCMEC_CSAM"
    assert (bank["kind"], bank["action"], bank["enabled"]) == ("block", "block", True)
    assert bank["labels"] == ["A1", "A2", "B1", "B2"]
    assert bank["pdq_threshold"] == 31
    assert bank["counts"] == {}

    assert [b["name"] for b in client.get("/v1/banks", headers=writer).json()] == ["NCMEC_CSAM"]

    patched = client.patch(
        "/v1/banks/NCMEC_CSAM",
        headers=writer,
        json={"pdq_threshold": 12, "dihedral": True, "action": "review"},
    )
    assert patched.status_code == 200, patched.text
    assert (patched.json()["pdq_threshold"], patched.json()["dihedral"]) == (12, True)
    assert patched.json()["action"] == "review"
    assert patched.json()["change_seq"] > bank["change_seq"]

    add(client, writer, [{"signal_type": "md5", "value": md5_of(i)} for i in range(3)])
    gone = client.delete("/v1/banks/NCMEC_CSAM", headers=writer)
    assert gone.status_code == 200
    assert gone.json() == {"name": "NCMEC_CSAM", "entries_removed": 3}
    assert_problem(client.get("/v1/banks/NCMEC_CSAM", headers=writer), 404, "not-found")
    assert client.get("/v1/banks", headers=writer).json() == []
    assert all(e.removed_at is not None for e in entries_of(db, bank["id"]))


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "lower_case"}, "name"),
        ({"name": "OK", "pdq_threshold": 65}, "pdq_threshold"),
        ({"name": "OK", "vpdq_query_pct": 101}, "vpdq_query_pct"),
        ({"name": "OK", "labels": ["not a label"]}, "labels.0"),
        ({"name": "OK", "kind": "maybe"}, "kind"),
        ({"name": "OK", "colour": "red"}, "colour"),
    ],
)
def test_bad_bank_settings_are_422(
    client: TestClient, writer: dict[str, str], body: dict[str, Any], field: str
) -> None:
    problem = assert_problem(
        client.post("/v1/banks", headers=writer, json=body), 422, "invalid-input"
    )
    assert field in {e["field"] for e in problem["errors"]}


def test_duplicate_bank_is_409_and_allow_bank_action_is_422(
    client: TestClient, writer: dict[str, str], bank: dict[str, Any]
) -> None:
    assert_problem(
        client.post("/v1/banks", headers=writer, json={"name": "NCMEC_CSAM"}), 409, "conflict"
    )
    problem = assert_problem(
        client.post(
            "/v1/banks", headers=writer, json={"name": "FP", "kind": "allow", "action": "block"}
        ),
        422,
        "invalid-input",
    )
    assert problem["field"] == "action"
    allow = client.post("/v1/banks", headers=writer, json={"name": "FP", "kind": "allow"})
    assert allow.status_code == 201
    assert allow.json()["action"] is None


def test_unknown_bank_is_404(client: TestClient, writer: dict[str, str]) -> None:
    for method, path in [
        ("GET", "/v1/banks/NOPE"),
        ("GET", "/v1/banks/NOPE/entries"),
        ("GET", "/v1/banks/NOPE/export"),
        ("DELETE", "/v1/banks/NOPE"),
    ]:
        body = assert_problem(client.request(method, path, headers=writer), 404, "not-found")
        assert "NOPE" in body["detail"]


# ---- entries -------------------------------------------------------------------------------


@pytest.mark.usefixtures("bank")
def test_add_one_entry_and_read_it_back(client: TestClient, writer: dict[str, str]) -> None:
    response = add(
        client,
        writer,
        {
            "signal_type": "pdq",
            "value": pdq_of(1).upper(),
            "quality": 88,
            "labels": ["B1", "A1"],
            "source": "reviewer",
            "source_record_id": "case-9",
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["added"], body["duplicates"], body["revived"]) == (1, 0, 0)
    [item] = body["items"]
    assert (item["index"], item["outcome"]) == (0, "added")
    entry = client.get(f"/v1/banks/NCMEC_CSAM/entries/{item['id']}", headers=writer).json()
    assert entry["value"] == pdq_of(1)
    assert (entry["quality"], entry["labels"], entry["source"]) == (88, ["A1", "B1"], "reviewer")
    assert entry["source_record_id"] == "case-9"
    assert entry["added_by"].startswith("apikey:")
    assert entry["removed_at"] is None

    counts = client.get("/v1/banks/NCMEC_CSAM", headers=writer).json()["counts"]
    assert counts == {"pdq": {"active": 1, "disabled": 0, "removed": 0}}


@pytest.mark.usefixtures("bank")
def test_add_a_list_reports_each_item(client: TestClient, writer: dict[str, str]) -> None:
    first = add(client, writer, {"signal_type": "md5", "value": md5_of(1)}).json()["items"][0]
    client.delete(f"/v1/banks/NCMEC_CSAM/entries/{first['id']}", headers=writer)
    add(client, writer, {"signal_type": "md5", "value": md5_of(2)})
    body = add(
        client,
        writer,
        [
            {"signal_type": "md5", "value": md5_of(1)},  # removed before: revived
            {"signal_type": "md5", "value": md5_of(2)},  # already there
            {"signal_type": "md5", "value": md5_of(3)},  # new
            {"signal_type": "md5", "value": md5_of(3)},  # repeated in this call
            {"signal_type": "vpdq", "value": vpdq_of(1)},
        ],
    ).json()
    outcomes = [(i["index"], i["outcome"]) for i in body["items"]]
    assert outcomes == [
        (0, "revived"),
        (1, "duplicate"),
        (2, "added"),
        (3, "duplicate"),
        (4, "added"),
    ]
    assert body["items"][0]["id"] == first["id"]
    assert body["items"][2]["id"] == body["items"][3]["id"]
    assert (body["added"], body["duplicates"], body["revived"]) == (2, 2, 1)


@pytest.mark.usefixtures("bank")
def test_one_invalid_item_fails_the_whole_call_naming_its_index(
    client: TestClient, writer: dict[str, str], db: Database
) -> None:
    response = add(
        client,
        writer,
        [
            {"signal_type": "md5", "value": md5_of(1)},
            {"signal_type": "md5", "value": md5_of(2)},
            {"signal_type": "pdq", "value": pdq_of(1)[:32]},
        ],
    )
    body = assert_problem(response, 422, "invalid-input")
    assert body["detail"].startswith("entries[2]: ")
    assert "pdq" in body["detail"]
    assert "32" in body["detail"]
    assert body["index"] == 2
    listing = client.get("/v1/banks/NCMEC_CSAM/entries", headers=writer).json()
    assert listing["items"] == []

    label = assert_problem(
        add(client, writer, {"signal_type": "md5", "value": md5_of(1), "labels": ["Z9"]}),
        422,
        "invalid-input",
    )
    assert "Z9" in label["detail"]
    assert not label["detail"].startswith("entries[")
    unknown = assert_problem(
        add(client, writer, {"signal_type": "photodna", "value": "x"}), 422, "invalid-input"
    )
    assert "photodna" in unknown["detail"]
    schema = assert_problem(
        add(client, writer, [{"signal_type": "md5", "value": md5_of(1)}, {"signal_type": "md5"}]),
        422,
        "invalid-input",
    )
    assert [e["field"] for e in schema["errors"]] == ["entries.1.value"]
    single = assert_problem(add(client, writer, {"signal_type": "md5"}), 422, "invalid-input")
    assert [e["field"] for e in single["errors"]] == ["entry.value"]


def test_openapi_documents_the_bank_routes(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {
        "/v1/banks",
        "/v1/banks/{name}",
        "/v1/banks/{name}/entries",
        "/v1/banks/{name}/entries/{entry_id}",
        "/v1/banks/{name}/import",
        "/v1/banks/{name}/export",
    } <= set(paths)


@pytest.mark.usefixtures("bank")
def test_more_than_1000_entries_in_one_call_is_refused(
    client: TestClient, app: Any, db: Database, settings: Settings, writer: dict[str, str]
) -> None:
    big = create_app(settings.model_copy(update={"max_body_bytes": 1_000_000}), database=db)
    with TestClient(big, base_url="https://testserver") as c:
        items = [{"signal_type": "md5", "value": md5_of(i)} for i in range(1001)]
        assert_problem(add(c, writer, items), 422, "invalid-input")
        ok = add(c, writer, items[:1000])
        assert ok.status_code == 200
        assert ok.json()["added"] == 1000


@pytest.mark.usefixtures("bank")
def test_entries_page_filter_and_removed(client: TestClient, writer: dict[str, str]) -> None:
    add(
        client,
        writer,
        [{"signal_type": "md5", "value": md5_of(i)} for i in range(5)]
        + [{"signal_type": "pdq", "value": pdq_of(i)} for i in range(3)],
    )
    seen: list[int] = []
    after = 0
    while True:
        page = client.get(
            "/v1/banks/NCMEC_CSAM/entries", headers=writer, params={"after_id": after, "limit": 3}
        ).json()
        seen.extend(i["id"] for i in page["items"])
        if page["next_after_id"] is None:
            break
        after = page["next_after_id"]
    assert len(seen) == 8
    assert seen == sorted(seen)
    pdq = client.get(
        "/v1/banks/NCMEC_CSAM/entries", headers=writer, params={"signal_type": "PDQ"}
    ).json()["items"]
    assert {i["signal_type"] for i in pdq} == {"pdq"}
    assert len(pdq) == 3
    client.delete(f"/v1/banks/NCMEC_CSAM/entries/{seen[0]}", headers=writer)
    live = client.get("/v1/banks/NCMEC_CSAM/entries", headers=writer).json()["items"]
    assert seen[0] not in {i["id"] for i in live}
    everything = client.get(
        "/v1/banks/NCMEC_CSAM/entries", headers=writer, params={"include_removed": True}
    ).json()["items"]
    assert seen[0] in {i["id"] for i in everything}
    assert_problem(
        client.get("/v1/banks/NCMEC_CSAM/entries", headers=writer, params={"signal_type": "nope"}),
        422,
        "invalid-input",
    )


@pytest.mark.usefixtures("bank")
def test_patch_and_delete_an_entry(client: TestClient, writer: dict[str, str]) -> None:
    added = add(client, writer, {"signal_type": "md5", "value": md5_of(1)}).json()
    entry_id = added["items"][0]["id"]
    url = f"/v1/banks/NCMEC_CSAM/entries/{entry_id}"
    patched = client.patch(
        url,
        headers=writer,
        json={
            "labels": ["A2"],
            "disabled_until": "2999-01-01T00:00:00Z",
            "source_record_id": "r-2",
        },
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["labels"] == ["A2"]
    assert patched.json()["disabled_until"].startswith("2999-01-01T00:00:00")
    counts = client.get("/v1/banks/NCMEC_CSAM", headers=writer).json()["counts"]["md5"]
    assert counts == {"active": 0, "disabled": 1, "removed": 0}
    cleared = client.patch(url, headers=writer, json={"disabled_until": None})
    assert cleared.json()["disabled_until"] is None
    assert cleared.json()["source_record_id"] == "r-2"
    assert_problem(client.patch(url, headers=writer, json={"labels": ["Q7"]}), 422, "invalid-input")
    assert_problem(
        client.patch(url, headers=writer, json={"value": md5_of(2)}), 422, "invalid-input"
    )
    removed = client.delete(url, headers=writer)
    assert removed.status_code == 200
    assert removed.json()["removed_at"] is not None
    assert_problem(client.delete(url, headers=writer), 409, "conflict")
    assert client.get(url, headers=writer).json()["removed_at"] is not None
    assert_problem(
        client.get("/v1/banks/NCMEC_CSAM/entries/999999", headers=writer), 404, "not-found"
    )


# ---- import and export ---------------------------------------------------------------------


@pytest.mark.usefixtures("bank")
def test_import_a_csv_file_bigger_than_the_json_body_limit(
    client: TestClient, writer: dict[str, str], settings: Settings
) -> None:
    rows = "".join(f"md5,{md5_of(i)},A1,rec-{i},\n" for i in range(2000))
    data = (CSV_HEADER + rows + f"pdq,{pdq_of(1)[:32]},,,\n").encode()
    assert len(data) > settings.max_body_bytes
    response = client.post(
        "/v1/banks/NCMEC_CSAM/import",
        headers=writer,
        files={"file": ("hashes.csv", data, "text/csv")},
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["added"], report["rejected"], report["format"]) == (2000, 1, "csv")
    assert report["rejections"][0]["line"] == 2002
    assert "32" in report["rejections"][0]["reason"]
    counts = client.get("/v1/banks/NCMEC_CSAM", headers=writer).json()["counts"]
    assert counts["md5"]["active"] == 2000


@pytest.mark.usefixtures("bank")
def test_import_format_field_and_fatal_files(client: TestClient, writer: dict[str, str]) -> None:
    url = "/v1/banks/NCMEC_CSAM/import"
    data = f"md5 {md5_of(1)}\n".encode()
    response = client.post(
        url, headers=writer, data={"format": "local_file"}, files={"file": ("hashes.dat", data)}
    )
    assert response.status_code == 200, response.text
    assert response.json()["added"] == 1
    body = assert_problem(
        client.post(url, headers=writer, files={"file": ("hashes.dat", data)}), 422, "invalid-input"
    )
    assert "extension" in body["detail"]
    body = assert_problem(
        client.post(url, headers=writer, files={"file": ("x.csv", b"\x89PNG\r\n\x1a\n\x00")}),
        422,
        "invalid-input",
    )
    assert "UTF-8" in body["detail"]
    body = assert_problem(
        client.post(
            url,
            headers=writer,
            files={"file": ("x.jsonl", json.dumps(["not", "an", "object"]).encode())},
        ),
        422,
        "invalid-input",
    )
    assert "not an object" in body["detail"]


@pytest.mark.usefixtures("bank")
def test_import_limit_and_too_many_rejections(
    db: Database, settings: Settings, writer: dict[str, str]
) -> None:
    small = settings.model_copy(update={"import_max_bytes": 4096, "import_max_rejected": 2})
    app = create_app(small, database=db)
    with TestClient(app, base_url="https://testserver", raise_server_exceptions=False) as c:
        big = ("".join(f"md5 {md5_of(i)}\n" for i in range(200))).encode()
        assert_problem(
            c.post("/v1/banks/NCMEC_CSAM/import", headers=writer, files={"file": ("a.txt", big)}),
            413,
            "payload-too-large",
        )
        bad = b"md5 x\nmd5 y\nmd5 z\n"
        body = assert_problem(
            c.post("/v1/banks/NCMEC_CSAM/import", headers=writer, files={"file": ("a.txt", bad)}),
            422,
            "invalid-input",
        )
        assert "more than 2 lines were rejected" in body["detail"]
        # other paths keep the small JSON limit
        assert_problem(
            c.post(
                "/v1/banks/NCMEC_CSAM/entries",
                headers=writer,
                content=b"[" + b" " * 70_000 + b"]",
            ),
            413,
            "payload-too-large",
        )


@pytest.fixture
def filled(client: TestClient, writer: dict[str, str], bank: dict[str, Any]) -> None:
    add(
        client,
        writer,
        [
            {
                "signal_type": "pdq",
                "value": pdq_of(1),
                "labels": ["A1"],
                "quality": 77,
                "source_record_id": "r,1",
            },
            {"signal_type": "md5", "value": md5_of(1)},
            {"signal_type": "vpdq", "value": vpdq_of(2)},
        ],
    )


@pytest.mark.usefixtures("filled")
@pytest.mark.parametrize(
    ("fmt", "media_type", "ext"),
    [
        ("csv", "text/csv", "csv"),
        ("jsonl", "application/jsonl", "jsonl"),
        ("local_file", "text/plain", "txt"),
    ],
)
def test_export_streams_each_format_and_round_trips(
    client: TestClient, writer: dict[str, str], fmt: str, media_type: str, ext: str
) -> None:
    response = client.get("/v1/banks/NCMEC_CSAM/export", headers=writer, params={"format": fmt})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(media_type)
    assert f'filename="NCMEC_CSAM.{ext}"' in response.headers["content-disposition"]
    assert pdq_of(1) in response.text
    client.post("/v1/banks", headers=writer, json={"name": "COPY", "labels": ["A1"]})
    imported = client.post(
        "/v1/banks/COPY/import",
        headers=writer,
        files={"file": (f"NCMEC_CSAM.{ext}", response.content)},
    )
    assert imported.status_code == 200, imported.text
    assert (imported.json()["added"], imported.json()["rejected"]) == (3, 0)
    again = client.get("/v1/banks/COPY/export", headers=writer, params={"format": fmt})
    assert again.content == response.content


@pytest.mark.usefixtures("filled")
def test_export_of_an_unknown_format_is_422(client: TestClient, writer: dict[str, str]) -> None:
    assert_problem(
        client.get("/v1/banks/NCMEC_CSAM/export", headers=writer, params={"format": "xml"}),
        422,
        "invalid-input",
    )


@pytest.mark.usefixtures("filled")
def test_overview_counts_banks_and_hashes(client: TestClient, admin_key: str) -> None:
    counts = {
        c["key"]: c["value"]
        for c in client.get("/v1/overview", headers=auth(admin_key)).json()["counts"]
    }
    assert counts["banks"] == 1
    assert (counts["bank_entries_pdq"], counts["bank_entries_md5"]) == (1, 1)
    assert counts["bank_entries_vpdq"] == 1
