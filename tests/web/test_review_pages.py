"""The review pages through the TestClient: who may open them, the queue, a case, media that
starts blurred and is revealed only through a logged route, decisions through CSRF-checked
forms, the two-person rule, appeals and viewing preferences."""

from __future__ import annotations

import io
import json
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image

from shieldwall.cases import appeals
from shieldwall.cases.schemas import CaseSource
from shieldwall.config import Settings
from shieldwall.core.access import Role
from shieldwall.db.engine import Database
from shieldwall.intake import service as intake
from shieldwall.intake import takedowns
from shieldwall.intake.schemas import HashIn, TakedownRequestIn, UserReportIn
from shieldwall.users.models import User
from tests.conftest import PASSWORD, SYSTEM, make_user
from tests.media.samples import small_video
from tests.web.conftest import LoginAs, SqlScalar
from tests.web.html_forms import Form, Page, parse, submit
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


def payload(sql: SqlScalar, kind: str) -> dict[str, object]:
    """The payload of the one event of ``kind`` (JSON text on SQLite, a dict on PostgreSQL)."""
    value = sql("SELECT payload FROM events WHERE kind = :k", k=kind)
    return dict(json.loads(value) if isinstance(value, str) else value)


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
    assert payload(sql, "media.revealed") == {"media_id": mcase.media_id, "via": "click"}
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
    assert payload(sql, "media.revealed") == {"media_id": mcase.media_id, "via": "link"}


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


# ---- deciding -------------------------------------------------------------------------------


def decision_form(client: TestClient, case_id: int) -> Form:
    page = parse(client.get(f"/review/cases/{case_id}").text)
    return page.form_to(f"/review/cases/{case_id}/decision")


def case_status(sql: SqlScalar, case_id: int) -> str:
    return str(sql("SELECT status FROM cases WHERE id = :i", i=case_id))


@pytest.mark.usefixtures("admin")
def test_deciding_violating_a1_through_the_form(
    reviewer: TestClient, rita: User, mcase: MediaCase, sql: SqlScalar
) -> None:
    form = decision_form(reviewer, mcase.case_id)
    labels = [v for k, n, v in form.inputs if n == "outcome"]
    assert labels == ["violating", "not_violating", "escalate"]
    response = submit(reviewer, form, outcome="violating", label="A1", note="seen; clear A1")
    assert response.status_code == 303
    assert response.headers["location"] == f"/review/cases/{mcase.case_id}?done=decided"
    assert case_status(sql, mcase.case_id) == "decided"
    assert sql("SELECT label FROM cases WHERE id = :i", i=mcase.case_id) == "A1"
    assert sql("SELECT actor FROM events WHERE kind = 'case.decided'") == f"user:{rita.id}"
    assert sql("SELECT type FROM actions WHERE case_id = :i", i=mcase.case_id) == "content.remove"
    # the note is stored sealed, never as plain text
    sealed = sql("SELECT note_sealed FROM case_decisions WHERE case_id = :i", i=mcase.case_id)
    assert b"clear A1" not in bytes(sealed)

    page = reviewer.get(response.headers["location"])
    parsed = parse(page.text)
    assert parsed.text_of("notice") == "Decision recorded."
    assert parsed.text_of("case-status") == "decided"
    assert "seen; clear A1" in page.text  # shown back to reviewers, decrypted
    assert parsed.forms_to(f"/review/cases/{mcase.case_id}/decision") == []
    assert "content.remove" in parsed.text_of("actions")
    # no webhook URL is configured in these tests: the action is recorded, not sent
    assert parsed.text_of("delivery") == "not sent"
    # re-sending the same form (a reload) is refused: nothing is decided twice
    again = submit(reviewer, form, outcome="not_violating", label="")
    assert again.status_code == 403
    assert int(sql("SELECT count(*) FROM case_decisions")) == 1


@pytest.mark.usefixtures("admin")
@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"outcome": "violating", "label": ""}, "needs a label"),
        ({"outcome": "violating", "label": "Z9"}, "unknown label"),
        ({"outcome": "not_violating", "label": "A1"}, "violating decision only"),
        ({"outcome": "maybe"}, "choose an outcome"),
        ({"outcome": "", "label": ""}, "choose an outcome"),
        ({"outcome": "escalate", "note": "x" * 4001}, "4000 characters"),
    ],
    ids=["no-label", "unknown-label", "label-not-violating", "unknown-outcome", "none", "long"],
)
def test_a_bad_decision_shows_an_error_and_writes_nothing(
    reviewer: TestClient, mcase: MediaCase, sql: SqlScalar, fields: dict[str, str], message: str
) -> None:
    form = decision_form(reviewer, mcase.case_id)
    before = int(sql("SELECT count(*) FROM events"))
    response = submit(reviewer, form, **fields)
    assert response.status_code == 422
    page = parse(response.text)
    assert message in page.text_of("error")
    # the form is back, with what was chosen
    again = page.form_to(f"/review/cases/{mcase.case_id}/decision")
    if fields.get("outcome") in ("violating", "not_violating", "escalate"):
        assert again.fields.get("outcome") == fields["outcome"]
    assert int(sql("SELECT count(*) FROM case_decisions")) == 0
    assert int(sql("SELECT count(*) FROM events")) == before
    assert case_status(sql, mcase.case_id) == "in_review"


@pytest.mark.usefixtures("admin")
def test_not_violating_and_escalate(
    db: Database, settings: Settings, reviewer: TestClient, sql: SqlScalar
) -> None:
    first = signal_case(db, settings, ref="c-1")
    second = signal_case(db, settings, ref="c-2")
    response = submit(reviewer, decision_form(reviewer, first), outcome="not_violating")
    assert response.status_code == 303
    assert case_status(sql, first) == "decided"
    assert sql("SELECT count(*) FROM actions") == 0
    response = submit(reviewer, decision_form(reviewer, second), outcome="escalate", note="unsure")
    assert response.headers["location"].endswith("done=escalated")
    assert case_status(sql, second) == "escalated"
    page = parse(reviewer.get(f"/review/cases/{second}").text)
    assert page.form_to(f"/review/cases/{second}/decision")  # escalated cases are decided later


@pytest.mark.usefixtures("admin")
def test_every_review_post_refuses_a_missing_or_foreign_token(
    reviewer: TestClient, login_as: LoginAs, sam: User, mcase: MediaCase, sql: SqlScalar
) -> None:
    base = f"/review/cases/{mcase.case_id}"
    posts = {
        f"{base}/decision": {"outcome": "violating", "label": "A1"},
        f"{base}/confirm": {"agree": "true"},
        f"{base}/assign": {},
        f"{base}/close": {},
        "/review/preferences": {"blur": "off"},
        "/review/preferences/organisation": {"blur": "off"},
    }
    foreign = parse(login_as("sam", PASSWORD).get("/review").text).forms_to("/logout")[0]
    before = int(sql("SELECT count(*) FROM events"))
    for path, data in posts.items():
        assert reviewer.post(path, data=data).status_code == 403, path
        stolen = {**data, "csrf_token": foreign.fields["csrf_token"]}
        assert reviewer.post(path, data=stolen).status_code == 403, path
    assert int(sql("SELECT count(*) FROM events")) == before
    assert int(sql("SELECT count(*) FROM case_decisions")) == 0
    assert int(sql("SELECT count(*) FROM review_preferences")) == 0


# ---- the two-person rule --------------------------------------------------------------------


@pytest.fixture
def two_person(app: FastAPI, settings: Settings) -> Settings:
    changed = settings.model_copy(update={"case_two_person_labels": ["A1"]})
    app.state.settings = changed
    return changed


@pytest.mark.usefixtures("admin", "two_person")
def test_a1_waits_for_a_second_reviewer_who_confirms(
    reviewer: TestClient,
    login_as: LoginAs,
    rita: User,
    sam: User,
    mcase: MediaCase,
    sql: SqlScalar,
) -> None:
    response = submit(
        reviewer, decision_form(reviewer, mcase.case_id), outcome="violating", label="A1"
    )
    assert response.headers["location"].endswith("done=awaiting")
    assert sql("SELECT count(*) FROM actions") == 0, "nothing is sent before confirmation"

    own = parse(reviewer.get(f"/review/cases/{mcase.case_id}").text)
    assert "Awaiting confirmation" in own.text_of("awaiting-confirmation")
    assert "different reviewer must confirm" in own.text_of("own-decision")
    assert own.forms_to(f"/review/cases/{mcase.case_id}/confirm") == []
    # the service refuses the decider even with a hand-made form
    token = own.forms_to("/logout")[0].fields["csrf_token"]
    refused = reviewer.post(
        f"/review/cases/{mcase.case_id}/confirm", data={"csrf_token": token, "agree": "true"}
    )
    assert refused.status_code == 403
    assert "second reviewer" in refused.text
    queue = parse(reviewer.get("/review").text)
    assert queue.text_of("awaiting") == "awaiting confirmation"

    sam_client = login_as("sam", PASSWORD)
    page = parse(sam_client.get(f"/review/cases/{mcase.case_id}").text)
    form = page.form_to(f"/review/cases/{mcase.case_id}/confirm")
    response = submit(sam_client, form, agree="true", note="agree")
    assert response.status_code == 303
    assert response.headers["location"].endswith("done=confirmed")
    assert case_status(sql, mcase.case_id) == "decided"
    assert sql("SELECT confirmed_by FROM case_decisions") == f"user:{sam.id}"
    assert sql("SELECT type FROM actions") == "content.remove"


@pytest.mark.usefixtures("admin", "two_person")
def test_the_second_reviewer_may_disagree(
    reviewer: TestClient, login_as: LoginAs, sam: User, mcase: MediaCase, sql: SqlScalar
) -> None:
    submit(reviewer, decision_form(reviewer, mcase.case_id), outcome="violating", label="A1")
    sam_client = login_as("sam", PASSWORD)
    form = parse(sam_client.get(f"/review/cases/{mcase.case_id}").text).form_to(
        f"/review/cases/{mcase.case_id}/confirm"
    )
    response = submit(sam_client, form, agree="false")
    assert response.headers["location"].endswith("done=disagreed")
    assert case_status(sql, mcase.case_id) == "escalated"
    assert sql("SELECT count(*) FROM actions") == 0


# ---- appeals --------------------------------------------------------------------------------


@pytest.mark.usefixtures("admin")
def test_an_appeal_is_shown_as_such_and_the_original_decider_cannot_decide_it(
    db: Database,
    settings: Settings,
    reviewer: TestClient,
    login_as: LoginAs,
    sam: User,
    mcase: MediaCase,
    sql: SqlScalar,
) -> None:
    submit(reviewer, decision_form(reviewer, mcase.case_id), outcome="violating", label="A2")
    with db.session() as s:
        appeal, created = appeals.open_appeal(
            s, settings, case_id=mcase.case_id, reason="user_appeal", actor=SYSTEM
        )
        appeal_id = appeal.id
    assert created

    queue = reviewer.get("/review").text
    assert re.search(rf'data-case="{appeal_id}".*?appeal.*? of #{mcase.case_id}', queue, re.S)
    page = parse(reviewer.get(f"/review/cases/{appeal_id}").text)
    banner = page.text_of("appeal-banner")
    assert f"case #{mcase.case_id}" in banner
    assert "upholds the appeal" in banner
    assert "You decided the original case" in page.text_of("own-original")
    assert page.forms_to(f"/review/cases/{appeal_id}/decision") == []
    assert "another reviewer decides it" in page.text_of("decide-blocked")

    sam_client = login_as("sam", PASSWORD)
    form = decision_form(sam_client, appeal_id)
    response = submit(sam_client, form, outcome="not_violating", note="upheld")
    assert response.status_code == 303
    assert sql("SELECT type FROM actions WHERE case_id = :i", i=appeal_id) == "content.restore"
    original = parse(sam_client.get(f"/review/cases/{mcase.case_id}").text)
    assert f"/review/cases/{appeal_id}" in {a.get("href") for t, a in original.tags if t == "a"}


# ---- what reporters and survivors wrote -----------------------------------------------------


@pytest.mark.usefixtures("admin")
def test_a_user_reports_words_are_shown_through_the_intake_service_and_logged(
    db: Database, settings: Settings, reviewer: TestClient, sql: SqlScalar
) -> None:
    with db.session() as s:
        received = intake.submit_report(
            s,
            settings,
            UserReportIn(
                reporter_id="reporter-77",
                category="grooming",
                content_id="msg-9",
                text="he keeps asking her to move to another app",
            ),
            actor=SYSTEM,
        )
        case_id = received.report.case_id
    assert case_id is not None
    response = reviewer.get(f"/review/cases/{case_id}")
    page = parse(response.text)
    assert page.text_of("report-text") == "he keeps asking her to move to another app"
    assert "reporter-77" not in response.text  # a pseudonym, never the platform's id
    assert "Grooming" in page.text_of("signals")
    assert events(sql, "user_report.viewed") == 1


@pytest.mark.usefixtures("admin")
def test_a_survivor_request_shows_only_what_the_requester_shared(
    db: Database, settings: Settings, reviewer: TestClient, sql: SqlScalar
) -> None:
    with db.session() as s:
        received = takedowns.submit_takedown(
            s,
            settings,
            TakedownRequestIn(
                hashes=[HashIn(signal_type="md5", value="0" * 31 + "1")],
                on_behalf=True,
                message="please take these down",
            ),
            client_address="127.0.0.1",
        )
        case_id = received.request.case_id
    assert case_id is not None
    response = reviewer.get(f"/review/cases/{case_id}")
    page = parse(response.text)
    assert page.text_of("report-text") == "please take these down"
    assert "a helper acting for the survivor" in page.text_of("signals")
    assert "1 md5" in page.text_of("signals")
    assert "Contact" not in page.text_of("signals")  # none was given
    assert "127.0.0.1" not in response.text
    assert events(sql, "takedown_request.viewed") == 1


# ---- viewing preferences --------------------------------------------------------------------


@pytest.mark.usefixtures("admin")
def test_a_reviewer_turns_default_blurring_off_and_originals_show_logged(
    reviewer: TestClient, rita: User, mcase: MediaCase, sql: SqlScalar
) -> None:
    form = parse(reviewer.get("/review/preferences").text).form_to("/review/preferences")
    assert form.fields == {
        "csrf_token": form.fields["csrf_token"],
        "blur": "inherit",
        "grayscale": "inherit",
        "video_muted": "inherit",
    }
    response = submit(reviewer, form, blur="off", grayscale="off")
    assert response.status_code == 303
    page = parse(reviewer.get(response.headers["location"]).text)
    assert page.text_of("notice") == "Your preferences are saved."
    assert "shown unblurred (user)" in page.text_of("effective")
    assert sql("SELECT actor FROM events WHERE kind = 'review.preferences_changed'") == (
        f"user:{rita.id}"
    )

    case_page = parse(reviewer.get(f"/review/cases/{mcase.case_id}").text)
    item = media_item(case_page)
    assert item["data-state"] == "revealed"
    assert "gray" not in item["class"]
    (original,) = attrs_of(case_page, "img", **{"data-testid": "original"})
    assert "via=auto" in original["src"]
    assert reviewer.get(original["src"]).content == mcase.original
    assert payload(sql, "media.revealed") == {"media_id": mcase.media_id, "via": "auto"}


@pytest.mark.usefixtures("admin")
def test_organisation_defaults_are_for_admins(
    reviewer: TestClient, login_as: LoginAs, rita: User, mcase: MediaCase, sql: SqlScalar
) -> None:
    mine = parse(reviewer.get("/review/preferences").text)
    assert mine.forms_to("/review/preferences/organisation") == []
    token = mine.forms_to("/review/preferences")[0].fields["csrf_token"]
    refused = reviewer.post(
        "/review/preferences/organisation", data={"csrf_token": token, "blur": "off"}
    )
    assert refused.status_code == 403
    assert sql("SELECT count(*) FROM review_preferences") == 0

    admin = login_as("root", PASSWORD)
    form = parse(admin.get("/review/preferences").text).form_to("/review/preferences/organisation")
    assert form.fields["blur"] == "on"
    assert submit(admin, form, video_muted="off").status_code == 303
    assert events(sql, "review.defaults_changed") == 1
    # a reviewer who chose nothing follows the organisation
    effective = parse(reviewer.get("/review/preferences").text).text_of("effective")
    assert "sound on (organisation)" in effective
    assert "blurred until I reveal an item (organisation)" in effective
    item = media_item(parse(reviewer.get(f"/review/cases/{mcase.case_id}").text))
    assert item["data-muted"] == "false"
    assert item["data-state"] == "blurred"


@pytest.mark.usefixtures("admin")
def test_the_case_page_documents_its_shortcuts(reviewer: TestClient, mcase: MediaCase) -> None:
    page = parse(reviewer.get(f"/review/cases/{mcase.case_id}").text)
    details = attrs_of(page, "details", **{"data-role": "shortcuts"})
    assert details
    text = reviewer.get(f"/review/cases/{mcase.case_id}").text
    for key in ("r", "j", "k", "v", "n", "e"):
        assert f"<kbd>{key}</kbd>" in text
    assert "never fire while you type" in text


@pytest.mark.usefixtures("admin")
def test_a_video_is_recognised_from_its_bytes_previewed_still_and_revealed_muted(
    reviewer: TestClient, db: Database, settings: Settings, sql: SqlScalar
) -> None:
    clip = small_video()
    mc = media_case(db, settings, ref="clip-1", media_type=None, data=clip)
    page = parse(reviewer.get(f"/review/cases/{mc.case_id}").text)
    item = media_item(page)
    assert item["data-kind"] == "video"
    assert item["data-muted"] == "true"
    assert not attrs_of(page, "video"), "no video element before a reveal"
    preview = reviewer.get(f"/review/cases/{mc.case_id}/media/{mc.media_id}/preview")
    assert preview.headers["content-type"] == "image/jpeg"  # a still of the first frame
    (link,) = attrs_of(page, "a", **{"data-testid": "reveal"})
    shown = parse(reviewer.get(link["href"]).text)
    (video,) = attrs_of(shown, "video", **{"data-testid": "original"})
    assert "muted" in video
    original = reviewer.get(video["src"])
    assert original.headers["content-type"] == "video/mp4"
    assert original.content == clip
    assert events(sql, "media.revealed") == 1


@pytest.mark.usefixtures("admin")
def test_a_decided_case_can_be_closed_and_leaves_the_waiting_list(
    db: Database, settings: Settings, reviewer: TestClient, sql: SqlScalar
) -> None:
    case_id = signal_case(db, settings, ref="c-close")
    page = parse(reviewer.get(f"/review/cases/{case_id}").text)
    assert page.forms_to(f"/review/cases/{case_id}/close") == []  # not before a decision
    submit(reviewer, decision_form(reviewer, case_id), outcome="not_violating")
    page = parse(reviewer.get(f"/review/cases/{case_id}").text)
    response = submit(reviewer, page.form_to(f"/review/cases/{case_id}/close"))
    assert response.headers["location"].endswith("done=closed")
    assert case_status(sql, case_id) == "closed"
    assert events(sql, "case.closed") == 1
    closed = parse(reviewer.get("/review?status=closed").text)
    assert [int(a["data-case"]) for t, a in closed.tags if "data-case" in a] == [case_id]


@pytest.mark.usefixtures("admin")
def test_an_unknown_case_is_a_plain_not_found(reviewer: TestClient) -> None:
    response = reviewer.get("/review/cases/999")
    assert response.status_code == 404
    assert "no case with id 999" in response.text
    form_page = reviewer.get("/review")
    token = parse(form_page.text).forms_to("/logout")[0].fields["csrf_token"]
    posted = reviewer.post(
        "/review/cases/999/decision", data={"csrf_token": token, "outcome": "not_violating"}
    )
    assert posted.status_code == 404
