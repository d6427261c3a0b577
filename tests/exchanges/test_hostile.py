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
from shieldwall.integrations.exchanges import signing
from shieldwall.integrations.exchanges.base import same_origin, source_says
from tests.conftest import auth
from tests.exchanges.conftest import (
    NCMEC_CREDENTIALS,
    STOPNCII_CREDENTIALS,
    Fetch,
    MakeExchange,
    live_values,
)

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


UNREADABLE_ADDRESSES = [
    ("http://[::1/", "cannot be read"),
    ("https://xn--/", "not a valid international name"),
    ("http://.example.com/", "1-63 characters"),
    ("http://a..b/", "1-63 characters"),
    ("http://" + "a" * 71 + ".com/", "1-63 characters"),
    ("http://" + ("a" * 60 + ".") * 5 + "com/", "at most 253"),
]


def _settings_with(kind: str, address: str) -> dict[str, Any]:
    if kind == "url":
        return {"url": address}
    if kind == "shieldwall":
        public = signing.public_key_text(signing.signing_key(b"\x01" * 32))
        return {"url": address, "bank": "SHARED", "public_key": public}
    return {"base_url": address}


@pytest.mark.parametrize("kind", ["url", "shieldwall", "stop_ncii", "ncmec"])
@pytest.mark.parametrize(("address", "why"), UNREADABLE_ADDRESSES)
def test_an_address_no_fetch_could_use_is_refused_when_the_exchange_is_made(
    client: TestClient, admin_key: str, bank: Bank, kind: str, address: str, why: str
) -> None:
    """Such an address used to be stored, and every fetch then failed as "an internal error
    (UnicodeError / InvalidURL / IDNAError)"."""
    body = {"name": "bad-address", "type": kind, "bank": bank.name}
    response = client.post(
        "/v1/exchanges",
        headers=auth(admin_key),
        json={**body, "settings": _settings_with(kind, address)},
    )
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert detail.startswith("settings.")
    assert why in detail
    assert client.get("/v1/exchanges/bad-address", headers=auth(admin_key)).status_code == 404


@pytest.mark.parametrize(("address", "why"), UNREADABLE_ADDRESSES)
def test_an_exchange_stored_with_such_an_address_fails_its_fetch_in_plain_words(
    make_exchange: MakeExchange, fetch: Fetch, db: Database, address: str, why: str
) -> None:
    """An exchange stored before the check (or an address made from one): the run fails
    with the reason, not as an internal error."""
    name = make_exchange("stored", "url", {"url": "http://list.example/hashes.txt"})
    with db.session() as session:
        service.get_exchange(session, name).settings = {"url": address}
    run = fetch(name)
    assert run.status == "failed"
    assert "internal error" not in (run.error or "")
    assert "the source address is refused" in (run.error or "")
    assert why in (run.error or "")


CREDENTIALS: dict[str, dict[str, str]] = {
    "url": {},
    "shieldwall": {"api_key": "sw_partner_key"},
    "stop_ncii": STOPNCII_CREDENTIALS,
    "ncmec": NCMEC_CREDENTIALS,
}


@pytest.mark.parametrize("kind", ["url", "shieldwall", "stop_ncii", "ncmec"])
@pytest.mark.parametrize("address", ["https://xn--/", "http://a..b/", "http://[::1/"])
def test_every_type_fails_in_plain_words_on_a_stored_unreadable_address(
    make_exchange: MakeExchange, fetch: Fetch, db: Database, kind: str, address: str
) -> None:
    good = _settings_with(kind, "http://source.example/v1")
    name = make_exchange("stored", kind, good, credentials=CREDENTIALS[kind] or None)
    with db.session() as session:
        service.get_exchange(session, name).settings = _settings_with(kind, address)
    run = fetch(name)
    assert run.status == "failed"
    assert (run.error or "").startswith("the source address is refused: "), run.error
    assert "internal error" not in (run.error or "")


@pytest.mark.parametrize(
    "link",
    ["https://xn--/v1/next", "http://[::1/next", "http://.example.com/next", "http://a..b/"],
)
def test_a_paging_link_with_an_unreadable_host_is_not_followed(link: str) -> None:
    assert not same_origin(link, "https://graph.example/v1")


class BadRedirect(FakeService):
    """Answers every request with a redirect to an address httpx cannot read."""

    def __init__(self, location: str) -> None:
        super().__init__()
        self.location = location

    def handle(self, request: Request) -> Reply:
        return Reply(302, b"", {"Location": self.location})


@pytest.mark.parametrize("kind", ["url", "stop_ncii"])
@pytest.mark.parametrize("location", ["https://xn--/next", "http://[::1/next"])
def test_a_redirect_to_an_unreadable_address_fails_in_plain_words(
    make_exchange: MakeExchange, fetch: Fetch, kind: str, location: str
) -> None:
    """httpx reads the Location even of a redirect it does not follow: an xn-- label that is
    no punycode raised idna.IDNAError out of the run (an internal error)."""
    with Running(BadRedirect(location)) as server:
        good = {"url": server.url + "/list.txt"} if kind == "url" else {"base_url": server.url}
        name = make_exchange("moved", kind, good, credentials=CREDENTIALS[kind] or None)
        run = fetch(name)
    assert run.status == "failed"
    assert "internal error" not in (run.error or "")
    assert "redirects to an address that cannot be read" in (run.error or ""), run.error
