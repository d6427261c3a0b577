"""The review pages through the TestClient: who may open them, the queue, a case, media that
starts blurred and is revealed only through a logged route, decisions through CSRF-checked
forms, the two-person rule, appeals and viewing preferences."""

from __future__ import annotations

import io
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from shieldwall.cases.schemas import CaseSource
from shieldwall.config import Settings
from shieldwall.core.access import Role
from shieldwall.db.engine import Database
from shieldwall.users.models import User
from tests.conftest import PASSWORD, make_user
from tests.web.conftest import LoginAs, SqlScalar
from tests.web.html_forms import Page, parse, submit
from tests.web.review_cases import MediaCase, media_case, signal_case


@pytest.fixture
def rita(db: Database) -> User:
    return make_user(db, "rita", Role.REVIEWER)


@pytest.fixture
def sam(db: Database) -> User:
    return make_user(db, "sam", Role.REVIEWER)


@pytest.fixture
def reviewer(rita: User, login_as: LoginAs) -> TestClient:
    return login_as("rita", PASSWORD)


@pytest.fixture
def mcase(db: Database, settings: Settings) -> MediaCase:
    return media_case(db, settings)


def events(sql: SqlScalar, kind: str) -> int:
    return int(sql("SELECT count(*) FROM events WHERE kind = :k", k=kind))


def attrs_of(page: Page, tag: str, **match: str) -> list[dict[str, str]]:
    return [a for t, a in page.tags if t == tag and all(a.get(k) == v for k, v in match.items())]


def media_item(page: Page) -> dict[str, str]:
    (item,) = attrs_of(page, "article", **{"data-testid": "media-item"})
    return item


# ---- who may open what ----------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/review", "/review/cases/1", "/review/preferences"])
def test_review_pages_send_strangers_to_the_login_page(client: TestClient, path: str) -> None:
    response = client.get(path, follow_redirects=False)
    assert response.status_code == 303
    location = urlsplit(response.headers["location"])
    assert location.path == "/login"
    assert parse_qs(location.query)["next"] == [path]


@pytest.mark.usefixtures("admin")
def test_an_analyst_cannot_see_the_queue_or_a_case(
    db: Database, login_as: LoginAs, mcase: MediaCase, sql: SqlScalar
) -> None:
    make_user(db, "ana", Role.ANALYST)
    c = login_as("ana", PASSWORD)
    nav = {a.get("href") for tag, a in parse(c.get("/").text).tags if tag == "a"}
    assert "/review" not in nav
    base = f"/review/cases/{mcase.case_id}"
    for path in ("/review", base, f"{base}/media/{mcase.media_id}/preview", "/review/preferences"):
        response = c.get(path, follow_redirects=False)
        assert response.status_code == 403, path
        assert "cases:read" in response.text
    assert events(sql, "case.review_started") == 0


@pytest.mark.usefixtures("admin")
def test_a_reviewer_sees_the_queue_with_the_nav_link(
    reviewer: TestClient, mcase: MediaCase
) -> None:
    home = parse(reviewer.get("/").text)
    assert "/review" in {a.get("href") for tag, a in home.tags if tag == "a"}
    response = reviewer.get("/review")
    assert response.status_code == 200
    assert response.headers["cache-control"].startswith("no-store")
    page = parse(response.text)
    rows = attrs_of(page, "tr", **{"data-case": str(mcase.case_id)})
    assert len(rows) == 1
    # the page's script and stylesheet come from our own origin (the CSP allows no other)
    scripts = [a["src"] for a in attrs_of(page, "script")]
    assert [urlsplit(src).path for src in scripts] == ["/static/review.js"]
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert "<script>" not in response.text
    assert " style=" not in response.text


# ---- the queue ------------------------------------------------------------------------------


@pytest.mark.usefixtures("admin")
def test_the_queue_is_honest_when_empty(reviewer: TestClient) -> None:
    page = parse(reviewer.get("/review").text)
    assert "No cases yet" in page.text_of("empty-state")
    assert page.text_of("count-all") == "0"


@pytest.mark.usefixtures("admin")
def test_the_queue_orders_by_priority_then_age_and_filters(
    db: Database, settings: Settings, reviewer: TestClient, rita: User
) -> None:
    low_old = signal_case(db, settings, ref="c-low-old", score=0.2)
    a1 = media_case(db, settings, ref="m-a1", labels=("A1",)).case_id
    low_new = signal_case(db, settings, ref="c-low-new", score=0.2)
    danger = signal_case(
        db,
        settings,
        ref="r-danger",
        source=CaseSource.USER_REPORT,
        score=None,
        child_in_danger=True,
    )
    page = parse(reviewer.get("/review").text)
    order = [int(a["data-case"]) for a in attrs_of(page, "tr") if "data-case" in a]
    assert order[:2] == [danger, a1]
    assert order.index(low_old) < order.index(low_new)  # same priority: oldest first
    assert page.text_of("count-open") == "4"

    classifier_only = parse(reviewer.get("/review?source=classifier").text)
    ids = {int(a["data-case"]) for a in attrs_of(classifier_only, "tr") if "data-case" in a}
    assert ids == {low_old, low_new}

    # take one; "assigned to me" shows only it
    form = parse(reviewer.get(f"/review/cases/{a1}").text).form_to(f"/review/cases/{a1}/assign")
    assert submit(reviewer, form).status_code == 303
    mine = parse(reviewer.get("/review?assignee=me").text)
    assert [int(a["data-case"]) for a in attrs_of(mine, "tr") if "data-case" in a] == [a1]
    nobody = parse(reviewer.get("/review?assignee=none").text)
    assert a1 not in {int(a["data-case"]) for a in attrs_of(nobody, "tr") if "data-case" in a}

    decided = parse(reviewer.get("/review?status=decided").text)
    assert "nothing is waiting" not in decided.text_of("empty-state")
    assert "No case matches these filters" in decided.text_of("empty-state")


@pytest.mark.usefixtures("admin")
def test_the_queue_shows_due_times(
    db: Database, settings: Settings, reviewer: TestClient, mcase: MediaCase
) -> None:
    response = reviewer.get("/review")
    row = re.search(
        rf'<tr data-queue-row data-case="{mcase.case_id}">(.*?)</tr>', response.text, re.S
    )
    assert row is not None
    assert re.search(
        r"<time datetime=\"\d{4}-\d\d-\d\dT[^\"]+\"[^>]*>\d{4}-\d\d-\d\d \d\d:\d\d", row.group(1)
    )


# ---- the case page and its media ------------------------------------------------------------


@pytest.mark.usefixtures("admin")
def test_the_case_page_shows_the_blurred_preview_not_the_original(
    reviewer: TestClient, mcase: MediaCase, sql: SqlScalar
) -> None:
    response = reviewer.get(f"/review/cases/{mcase.case_id}")
    assert response.status_code == 200
    assert response.headers["cache-control"].startswith("no-store")
    page = parse(response.text)
    item = media_item(page)
    assert item["data-state"] == "blurred"
    assert "gray" in item["class"]
    imgs = [a["src"] for a in attrs_of(page, "img")]
    base = f"/review/cases/{mcase.case_id}/media/{mcase.media_id}"
    assert imgs == [f"{base}/preview"], "only the preview is loaded with the page"
    assert not attrs_of(page, "video")
    (link,) = attrs_of(page, "a", **{"data-testid": "reveal"})
    assert link["href"].startswith(f"{base}/reveal?t=")
    assert item["data-original-url"].startswith(f"{base}/original?t=")
    # opening the page starts the first-review clock; nothing was revealed
    assert events(sql, "case.review_started") == 1
    assert events(sql, "media.revealed") == 0


@pytest.mark.usefixtures("admin")
def test_the_preview_route_never_serves_the_original(
    reviewer: TestClient, mcase: MediaCase, sql: SqlScalar
) -> None:
    response = reviewer.get(f"/review/cases/{mcase.case_id}/media/{mcase.media_id}/preview")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/jpeg"
    assert response.headers["cache-control"].startswith("no-store")
    assert response.content != mcase.original
    assert mcase.original not in response.content
    picture = Image.open(io.BytesIO(response.content))
    assert picture.mode == "L", "the preview is grayscale"
    assert events(sql, "media.revealed") == 0


@pytest.mark.usefixtures("admin")
def test_revealing_serves_the_original_uncached_and_logs_who_when_which_case(
    reviewer: TestClient, rita: User, mcase: MediaCase, sql: SqlScalar
) -> None:
    page = parse(reviewer.get(f"/review/cases/{mcase.case_id}").text)
    url = media_item(page)["data-original-url"]
    response = reviewer.get(url)
    assert response.status_code == 200
    assert response.content == mcase.original
    assert response.headers["content-type"] == "image/jpeg"
    assert response.headers["cache-control"].startswith("no-store")
    assert response.headers["cross-origin-resource-policy"] == "same-origin"
    assert events(sql, "media.revealed") == 1
    assert sql("SELECT actor FROM events WHERE kind = 'media.revealed'") == f"user:{rita.id}"
    assert (
        sql("SELECT subject FROM events WHERE kind = 'media.revealed'") == f"case:{mcase.case_id}"
    )
    payload = sql("SELECT payload FROM events WHERE kind = 'media.revealed'")
    assert f'"media_id": {mcase.media_id}' in str(payload).replace('":', '": ').replace("  ", " ")
    # each showing is logged again: nothing is served from a cache
    assert reviewer.get(url).status_code == 200
    assert events(sql, "media.revealed") == 2


@pytest.mark.usefixtures("admin")
@pytest.mark.parametrize("token", ["", "0" * 40, "wrong"])
def test_the_original_needs_this_sessions_reveal_token(
    reviewer: TestClient, mcase: MediaCase, sql: SqlScalar, token: str
) -> None:
    url = f"/review/cases/{mcase.case_id}/media/{mcase.media_id}/original?t={token}"
    response = reviewer.get(url)
    assert response.status_code == 403
    assert mcase.original not in response.content
    assert events(sql, "media.revealed") == 0


@pytest.mark.usefixtures("admin")
def test_a_reveal_link_from_another_session_or_case_is_refused(
    reviewer: TestClient,
    sam: User,
    login_as: LoginAs,
    db: Database,
    settings: Settings,
    mcase: MediaCase,
    sql: SqlScalar,
) -> None:
    url = media_item(parse(reviewer.get(f"/review/cases/{mcase.case_id}").text))[
        "data-original-url"
    ]
    other = login_as("sam", PASSWORD)
    assert other.get(url).status_code == 403
    # the token of one case's item does not open the same media through another case
    second = media_case(db, settings, ref="post-2", seed=2)
    token = parse_qs(urlsplit(url).query)["t"][0]
    forged = f"/review/cases/{second.case_id}/media/{mcase.media_id}/original?t={token}"
    assert reviewer.get(forged).status_code == 403
    assert events(sql, "media.revealed") == 0


@pytest.mark.usefixtures("admin")
def test_media_of_another_case_is_not_served(
    reviewer: TestClient, db: Database, settings: Settings, mcase: MediaCase
) -> None:
    second = media_case(db, settings, ref="post-2", seed=2)
    response = reviewer.get(f"/review/cases/{second.case_id}/media/{mcase.media_id}/preview")
    assert response.status_code == 404


@pytest.mark.usefixtures("admin")
def test_the_reveal_link_works_without_javascript_and_logs_the_event(
    reviewer: TestClient, mcase: MediaCase, sql: SqlScalar
) -> None:
    page = parse(reviewer.get(f"/review/cases/{mcase.case_id}").text)
    (link,) = attrs_of(page, "a", **{"data-testid": "reveal"})
    shown = reviewer.get(link["href"])
    assert shown.status_code == 200
    assert shown.headers["cache-control"].startswith("no-store")
    (img,) = attrs_of(parse(shown.text), "img", **{"data-testid": "original"})
    assert "via=link" in img["src"]
    assert events(sql, "media.revealed") == 0  # the page itself shows nothing yet
    assert reviewer.get(img["src"]).content == mcase.original
    assert events(sql, "media.revealed") == 1
    assert "link" in str(sql("SELECT payload FROM events WHERE kind = 'media.revealed'"))


@pytest.mark.usefixtures("admin")
def test_the_original_is_served_as_its_sniffed_type_not_the_declared_one(
    reviewer: TestClient, db: Database, settings: Settings
) -> None:
    mc = media_case(db, settings, media_type="text/html")
    url = media_item(parse(reviewer.get(f"/review/cases/{mc.case_id}").text))["data-original-url"]
    response = reviewer.get(url)
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/jpeg"
    assert "sandbox" in response.headers["content-security-policy"]


@pytest.mark.usefixtures("admin")
def test_bytes_that_are_no_picture_or_video_are_not_served(
    reviewer: TestClient, db: Database, settings: Settings, sql: SqlScalar
) -> None:
    mc = media_case(db, settings, media_type="image/jpeg", data=b"<script>alert(1)</script>")
    url = media_item(parse(reviewer.get(f"/review/cases/{mc.case_id}").text))["data-original-url"]
    response = reviewer.get(url)
    assert response.status_code == 415
    assert b"<script>alert(1)" not in response.content
    assert events(sql, "media.revealed") == 0
