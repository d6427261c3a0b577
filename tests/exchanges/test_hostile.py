"""Hostile input: text a database cannot store, ids out of range, tokens that are not
tokens. Nothing may crash a fetch for good or answer 500."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from shieldwall.banks.models import Bank
from shieldwall.db.engine import Database
from shieldwall.devtools.fake_http import FakeService, Reply, Request, Running
from shieldwall.devtools.fake_stopncii import FakeStopNcii, pdq_for, record
from shieldwall.exchanges import service
from shieldwall.integrations.exchanges.base import source_says
from tests.conftest import auth
from tests.exchanges.conftest import STOPNCII_CREDENTIALS, Fetch, MakeExchange, live_values

pytestmark = pytest.mark.db


def test_records_with_unstorable_text_are_quarantined_and_the_fetch_goes_on(
    stopncii: tuple[FakeStopNcii, str],
    make_exchange: MakeExchange,
    fetch: Fetch,
    db: Database,
    bank: Bank,
) -> None:
    fake, url = stopncii
    fake.set_records(
        [
            record(pdq_for(1), ts=1_700_000_001),
            record("ab\x00cd", ts=1_700_000_002),
            {**record(pdq_for(3), ts=1_700_000_003), "signalType": "Image\x00PDQ"},
            record("\ud800" * 3, ts=1_700_000_004),
            {**record(pdq_for(5), ts=1_700_000_005), "hashStatus": "\u202eActive"},
            record(pdq_for(6), ts=1_700_000_006),
        ]
    )
    name = make_exchange(
        "stopncii", "stop_ncii", {"base_url": url}, credentials=STOPNCII_CREDENTIALS
    )
    run = fetch(name)
    assert run.status == "succeeded", run.error
    assert (run.added, run.quarantined) == (2, 4)
    assert set(live_values(db, bank.id)) == {("pdq", pdq_for(1)), ("pdq", pdq_for(6))}
    with db.session() as session:
        rows = service.status(session, name).quarantine
    for row in rows:
        assert row.record_id.isprintable()
        assert row.reason.isprintable()


def test_a_page_token_that_is_not_a_token_fails_in_plain_words(
    stopncii: tuple[FakeStopNcii, str], make_exchange: MakeExchange, fetch: Fetch
) -> None:
    fake, url = stopncii
    fake.set_records([record(pdq_for(i), ts=1_700_000_000 + i) for i in range(20)])
    original = fake._fetch

    def nul_token(request: Any) -> Any:
        reply = original(request)
        body = json.loads(reply.body)
        if body.get("nextPageToken"):
            body["nextPageToken"] = "tok\x00en"
        reply.body = json.dumps(body).encode()
        return reply

    fake._fetch = nul_token  # type: ignore[method-assign]
    name = make_exchange(
        "stopncii",
        "stop_ncii",
        {"base_url": url, "page_size": 10},
        credentials=STOPNCII_CREDENTIALS,
    )
    run = fetch(name)
    assert run.status == "failed"
    assert "nextPageToken" in (run.error or "")


@pytest.mark.parametrize(
    "path",
    [
        "/v1/exchanges/a%00b",
        "/v1/exchanges/a%00b/quarantine",
        "/v1/exchange/feeds/A%00B",
    ],
)
def test_names_with_nul_are_unknown(client: TestClient, admin_key: str, path: str) -> None:
    assert client.get(path, headers=auth(admin_key)).status_code == 404


def test_out_of_range_cursors_and_unstorable_settings_are_refused(
    client: TestClient, admin_key: str, bank: Bank
) -> None:
    headers = auth(admin_key)
    assert client.put(f"/v1/exchange/shares/{bank.name}", headers=headers).status_code == 200
    huge = client.get(
        f"/v1/exchange/feeds/{bank.name}",
        params={"cursor": f"{2**64}.1"},
        headers=headers,
    )
    assert huge.status_code == 422
    created = client.post(
        "/v1/exchanges",
        headers=headers,
        json={
            "name": "x",
            "type": "url",
            "bank": bank.name,
            "settings": {"url": "http://example.org/\u0000"},
        },
    )
    assert created.status_code == 422
    assert "unprintable" in created.json()["detail"]
    nul_bank = client.post(
        "/v1/exchanges",
        headers=headers,
        json={"name": "y", "type": "url", "bank": "A\u0000", "settings": {"url": "http://e.x"}},
    )
    assert nul_bank.status_code == 404
    assert client.put("/v1/exchange/shares/A%00B", headers=headers).status_code == 404


def test_deeply_nested_settings_are_refused_not_crashed(
    client: TestClient, admin_key: str, bank: Bank
) -> None:
    for depth in (200, 3000):  # deep for our check; deeper than the JSON parser goes
        deep = "[" * depth + '"x"' + "]" * depth
        body = (
            f'{{"name": "deep", "type": "url", "bank": "{bank.name}", '
            f'"settings": {{"url": "http://e.x", "extra": {deep}}}}}'
        )
        response = client.post(
            "/v1/exchanges",
            headers={**auth(admin_key), "Content-Type": "application/json"},
            content=body,
        )
        assert response.status_code in (400, 413, 422), (depth, response.text[:200])


class DamagedGzip(FakeService):
    """Says its answers are gzip-compressed; they are not (a misconfigured server, or a
    proxy that altered the body). ``busy`` answers start with that many 503s."""

    def __init__(self, busy: int = 0) -> None:
        super().__init__()
        self.busy = busy

    def handle(self, request: Request) -> Reply:
        status = 200
        if self.busy:
            self.busy -= 1
            status = 503
        return Reply(status, b"plain text, not gzip " * 50, {"Content-Encoding": "gzip"})


@pytest.mark.parametrize("kind", ["url", "stop_ncii"])
def test_a_body_its_content_encoding_does_not_decode_fails_in_plain_words(
    kind: str, make_exchange: MakeExchange, fetch: Fetch, db: Database, bank: Bank
) -> None:
    # both ways of reading: a list streamed line by line, JSON pages read whole
    fake = DamagedGzip(busy=1)
    with Running(fake) as server:
        if kind == "url":
            name = make_exchange("list", "url", {"url": server.url + "/list.txt"})
        else:
            name = make_exchange(
                "stopncii",
                "stop_ncii",
                {"base_url": server.url + "/v1"},
                credentials=STOPNCII_CREDENTIALS,
            )
        run = fetch(name)
    assert run.status == "failed"
    assert "could not be decoded as the Content-Encoding it names ('gzip')" in (run.error or "")
    assert "internal error" not in (run.error or "")
    assert fake.busy == 0  # the 503 with a damaged body was retried on its status
    assert not live_values(db, bank.id)


@pytest.mark.parametrize(
    ("body", "said"),
    [
        (
            b'{"error": {"type": "OAuthException", "code": 190, "message": "expired"}}',
            "OAuthException 190 expired",
        ),
        (b'{"statusCode": 401, "message": "Access denied"}', "Access denied"),
        (
            b'{"type": "/problems/x", "title": "Forbidden", "detail": "no scope"}',
            "Forbidden no scope",
        ),
        (b'{"error": "unauthorised"}', "unauthorised"),
        (b'{"error": {"code": true, "message": "a\\u0000b\\u202ec\\nd"}}', "a?b?c d"),
        (b'{"message": "' + b"x" * 5000 + b'"}', "x" * 197 + "..."),
        (b'{"message": "token sekrit-123456 is bad"}', "token *** is bad"),
        (b'{"message": 42}', None),
        (b"[1, 2]", None),
        (b"<html><body>Access denied</body></html>", None),
        (b"{" * 50_000, None),
        (b'{"message": "' + b"y" * 20_000 + b'"}', None),
        (b'{"a": ' * 1000 + b"1" + b"}" * 1000, None),
        (b"\xff\xfe{not json", None),
    ],
)
def test_an_error_answer_is_quoted_only_in_its_own_short_printable_words(
    body: bytes, said: str | None
) -> None:
    assert source_says(body, ["sekrit-123456"]) == said
