"""The HTTP classifier adapter against a fake service over real HTTP."""

from __future__ import annotations

import base64
import socket
from typing import Any

import pytest
from pydantic import ValidationError

from shieldwall.integrations.classifiers import ClassifierConfig, ClassifierError, ClassifierInput
from shieldwall.integrations.classifiers.http import HttpClassifier, read_path, scores_from_reply
from tests.integrations.classifiers.fake_service import FakeService, Reply

PICTURE = b"\xff\xd8\xff\xe0 generated test bytes"


def make(service: FakeService, waits: list[float] | None = None, **fields: Any) -> HttpClassifier:
    config = ClassifierConfig(
        name="remote", kind="http", url=service.url, **{"backoff_seconds": 0.5, **fields}
    )
    recorded = waits if waits is not None else []
    return HttpClassifier(config, sleep=recorded.append)


def test_bytes_go_as_multipart_with_the_configured_headers(service: FakeService) -> None:
    service.script(Reply(json_body={"result": {"scores": [{"value": 0.25}, {"value": 0.75}]}}))
    classifier = make(
        service,
        score_paths={"first": "result.scores.0.value", "second": "result.scores.1.value"},
        headers={"Authorization": "Bearer sekrit", "X-Tenant": "t1"},
        file_field="image",
    )
    scores = classifier.classify(ClassifierInput(data=PICTURE, media_type="image/jpeg"))
    assert scores == {"first": 0.25, "second": 0.75}
    (seen,) = service.received
    assert seen.path == "/v1/classify"
    assert seen.headers["authorization"] == "Bearer sekrit"
    assert seen.headers["x-tenant"] == "t1"
    assert seen.headers["user-agent"].startswith("shieldwall/")
    assert seen.content_type.startswith("multipart/form-data")
    assert seen.multipart() == {"image": ("media", "image/jpeg", PICTURE)}


def test_a_url_goes_as_json_with_extra_members(service: FakeService) -> None:
    service.script(Reply(json_body={"score": 1}))
    classifier = make(service, send="url", url_field="imageUrl", extra_json={"model": "v2"})
    content = ClassifierInput(url="https://cdn.example/item/9.jpg")
    assert classifier.classify(content) == {"score": 1.0}
    (seen,) = service.received
    assert seen.content_type == "application/json"
    assert seen.json() == {"model": "v2", "imageUrl": "https://cdn.example/item/9.jpg"}


def test_base64_goes_as_json(service: FakeService) -> None:
    service.script(Reply(json_body={"score": 0.1}))
    classifier = make(service, send="base64", data_field="content")
    classifier.classify(ClassifierInput(data=PICTURE))
    assert base64.b64decode(service.received[0].json()["content"]) == PICTURE


def test_a_star_label_reads_an_object_of_labels(service: FakeService) -> None:
    service.script(Reply(json_body={"classes": {"a": 0.1, "b": 0.9}, "other": 3}))
    classifier = make(service, score_paths={"*": "classes", "extra": "other"})
    assert classifier.classify(ClassifierInput(data=PICTURE)) == {"a": 0.1, "b": 0.9, "extra": 3.0}


def test_the_wrong_input_for_the_send_mode_is_a_clear_error(service: FakeService) -> None:
    with pytest.raises(ClassifierError, match="only a URL was given"):
        make(service).classify(ClassifierInput(url="https://cdn.example/x"))
    with pytest.raises(ClassifierError, match="has no URL"):
        make(service, send="url").classify(ClassifierInput(data=PICTURE))
    assert service.received == []


def test_5xx_is_retried_with_growing_backoff_and_then_succeeds(service: FakeService) -> None:
    service.script(Reply(500), Reply(503), Reply(json_body={"score": 0.4}))
    waits: list[float] = []
    classifier = make(service, waits, retries=2)
    assert classifier.classify(ClassifierInput(data=PICTURE)) == {"score": 0.4}
    assert len(service.received) == 3
    assert len(waits) == 2
    assert 0.25 <= waits[0] <= 0.5  # backoff 0.5 s with jitter in [base/2, base]
    assert 0.5 <= waits[1] <= 1.0  # doubled


def test_a_service_that_keeps_failing_gives_up_after_the_retries(service: FakeService) -> None:
    service.script(Reply(500, json_body={"error": "boom"}))
    with pytest.raises(ClassifierError, match=r"HTTP 500 \(gave up after 4 attempts\)"):
        make(service, retries=3).classify(ClassifierInput(data=PICTURE))
    assert len(service.received) == 4


def test_429_waits_at_least_retry_after(service: FakeService) -> None:
    service.script(Reply(429, headers={"Retry-After": "7"}), Reply(json_body={"score": 0}))
    waits: list[float] = []
    assert make(service, waits).classify(ClassifierInput(data=PICTURE)) == {"score": 0.0}
    assert waits == [7.0]


@pytest.mark.parametrize("status", [400, 401, 403, 404, 413, 302])
def test_other_errors_and_redirects_are_not_retried(service: FakeService, status: int) -> None:
    service.script(Reply(status, headers={"Location": "http://127.0.0.1:1/elsewhere"}))
    with pytest.raises(ClassifierError, match=f"HTTP {status}"):
        make(service, retries=3).classify(ClassifierInput(data=PICTURE))
    assert len(service.received) == 1


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (Reply(raw=b"<html>oops</html>"), "not JSON"),
        (Reply(raw=b'{"score": 0.5'), "not JSON"),
        (Reply(raw=b"\xff\xfe\x00"), "not JSON"),
        (Reply(json_body={"other": 1}), "no 'score' \\(missing 'score'\\)"),
        (Reply(json_body={"score": "high"}), "not a number"),
        (Reply(json_body={"score": True}), "not a number"),
        (Reply(json_body={"score": None}), "not a number"),
        (Reply(json_body=[0.5]), "no 'score'"),
    ],
)
def test_malformed_replies_fail_without_retrying(
    service: FakeService, reply: Reply, message: str
) -> None:
    service.script(reply)
    with pytest.raises(ClassifierError, match=message):
        make(service, retries=3).classify(ClassifierInput(data=PICTURE))
    assert len(service.received) == 1


def test_a_reply_longer_than_the_limit_is_refused(service: FakeService) -> None:
    service.script(Reply(json_body={"score": 0.5, "padding": "x" * 5000}))
    with pytest.raises(ClassifierError, match="longer than 1,024 bytes"):
        make(service, max_reply_bytes=1024).classify(ClassifierInput(data=PICTURE))


def test_a_slow_service_times_out_and_is_retried(service: FakeService) -> None:
    service.script(Reply(json_body={"score": 0.9}, hold=True))
    waits: list[float] = []
    classifier = make(service, waits, timeout_seconds=0.2, retries=1)
    with pytest.raises(ClassifierError, match=r"no answer within 0.2 s \(time-out\)"):
        classifier.classify(ClassifierInput(data=PICTURE))
    assert len(service.received) == 2
    assert len(waits) == 1


def test_a_slow_first_answer_then_a_quick_one_succeeds(service: FakeService) -> None:
    service.script(Reply(json_body={"score": 0.9}, hold=True), Reply(json_body={"score": 0.3}))
    classifier = make(service, timeout_seconds=0.2, retries=1)
    assert classifier.classify(ClassifierInput(data=PICTURE)) == {"score": 0.3}


def test_nothing_listening_is_a_connection_failure() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = ClassifierConfig(name="gone", url=f"http://127.0.0.1:{port}/x", retries=1)
    waits: list[float] = []
    classifier = HttpClassifier(config, sleep=waits.append)
    with pytest.raises(ClassifierError, match=r"could not connect \(ConnectError\)"):
        classifier.classify(ClassifierInput(data=PICTURE))
    assert len(waits) == 1


def test_read_path_and_scores_from_reply() -> None:
    document = {"a": {"b": [{"c": 1}, {"c": 2.5}]}, "n": 0}
    assert read_path(document, "a.b.1.c") == 2.5
    assert read_path(document, "n") == 0
    for missing in ("a.x", "a.b.2.c", "a.b.c", "n.0"):
        with pytest.raises(KeyError):
            read_path(document, missing)
    with pytest.raises(ClassifierError, match="not an object"):
        scores_from_reply({"s": 1}, {"*": "s"})


def test_configuration_is_checked_and_secrets_stay_hidden() -> None:
    with pytest.raises(ValidationError, match="needs an http\\(s\\) url"):
        ClassifierConfig(name="x", kind="http")
    with pytest.raises(ValidationError, match="needs an http\\(s\\) url"):
        ClassifierConfig(name="x", kind="http", url="ftp://host/x")
    with pytest.raises(ValidationError, match="name"):
        ClassifierConfig(name="Bad Name", url="http://h/x")
    with pytest.raises(ValidationError, match="score path"):
        ClassifierConfig(name="x", url="http://h/x", score_paths={"s": "a..b"})
    with pytest.raises(ValidationError, match="at least one"):
        ClassifierConfig(name="x", url="http://h/x", score_paths={})
    with pytest.raises(ValidationError, match="finite"):
        ClassifierConfig(name="x", url="http://h/x", thresholds={"s": float("nan")})
    with pytest.raises(ValidationError, match="send"):
        ClassifierConfig(name="x", url="http://h/x", send="smoke-signals")  # type: ignore[arg-type]
    config = ClassifierConfig(name="x", url="http://h/x", headers={"Authorization": "Bearer s3"})
    assert "s3" not in repr(config)
    assert "s3" not in config.model_dump_json()


def test_a_json_template_shapes_the_body_and_words_map_to_scores(service: FakeService) -> None:
    """Shaped like the public Coop client for Google's Content Safety API (not verified)."""
    service.script(Reply(json_body={"reviewPriorities": ["HIGH"], "modelVersion": "x"}))
    classifier = make(
        service,
        send="base64",
        json_template={"images": ["{{base64}}"], "hint": {"type": "{{media_type}}"}},
        score_paths={"priority": "reviewPriorities.0"},
        value_map={"VERY_LOW": 0.0, "LOW": 0.25, "MEDIUM": 0.5, "HIGH": 0.75, "VERY_HIGH": 1.0},
    )
    content = ClassifierInput(data=PICTURE, media_type="image/jpeg")
    assert classifier.classify(content) == {"priority": 0.75}
    body = service.received[0].json()
    assert body == {"images": [base64.b64encode(PICTURE).decode()], "hint": {"type": "image/jpeg"}}
    service.script(Reply(json_body={"reviewPriorities": ["SOMETHING_NEW"]}))
    with pytest.raises(ClassifierError, match="is 'SOMETHING_NEW', which value_map does not list"):
        classifier.classify(content)


def test_a_json_template_for_urls(service: FakeService) -> None:
    service.script(Reply(json_body={"score": 0.5}))
    classifier = make(service, send="url", json_template={"input": {"image_url": "{{url}}"}})
    classifier.classify(ClassifierInput(url="https://cdn.example/1.png"))
    assert service.received[0].json() == {"input": {"image_url": "https://cdn.example/1.png"}}


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"send": "bytes", "json_template": {"a": "{{base64}}"}}, "needs send 'url' or 'base64'"),
        ({"send": "base64", "json_template": {"a": "{{url}}"}}, "must contain '{{base64}}'"),
        ({"send": "url", "json_template": {"a": "x{{url}}"}}, "must contain '{{url}}'"),
        ({"value_map": {"HIGH": float("inf")}}, "finite"),
    ],
)
def test_templates_and_value_maps_are_checked(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ClassifierConfig(name="x", url="http://h/x", **fields)


@pytest.mark.parametrize(
    ("declared", "sent"),
    [
        ("image/PNG", "image/png"),
        (None, "application/octet-stream"),
        ('image/png"; name="x', "application/octet-stream"),
        ("image/png\r\nX-Injected: 1", "application/octet-stream"),
    ],
)
def test_the_declared_type_is_sent_only_when_plain(
    service: FakeService, declared: str | None, sent: str
) -> None:
    service.script(Reply(json_body={"score": 0}))
    make(service).classify(ClassifierInput(data=PICTURE, media_type=declared))
    assert service.received[0].multipart() == {"file": ("media", sent, PICTURE)}
