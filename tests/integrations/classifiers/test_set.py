"""ClassifierSet: building from settings, entry-point discovery, broken plug-ins reported
(never fatal), thresholds, and failures that never raise."""

from __future__ import annotations

import json
import logging
import textwrap
import threading
import time
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from shieldwall.config import Settings
from shieldwall.integrations.classifiers import (
    ENTRY_POINT_GROUP,
    ClassifierInput,
    ClassifierSet,
)
from shieldwall.integrations.classifiers.standin import StandInClassifier
from tests.integrations.classifiers.fake_service import FakeService, Reply
from tests.media.samples import marked

SAMPLES = "tests.integrations.classifiers.plugin_samples"
CONTENT = ClassifierInput(data=b"x" * 40, media_type="application/octet-stream")


def point(name: str, target: str) -> EntryPoint:
    return EntryPoint(name=name, value=target, group=ENTRY_POINT_GROUP)


def configured(tmp_path: Path, *classifiers: dict[str, Any]) -> Settings:
    return Settings(data_dir=tmp_path, classifiers=list(classifiers))


def test_nothing_configured_is_falsy(tmp_path: Path) -> None:
    classifiers = ClassifierSet.from_settings(Settings(data_dir=tmp_path))
    assert not classifiers
    assert len(classifiers) == 0
    outcome = classifiers.classify(CONTENT)
    assert outcome.scores == []
    assert outcome.errors == {}
    assert not outcome.needs_review


def test_scores_thresholds_and_review(tmp_path: Path, service: FakeService) -> None:
    service.script(Reply(json_body={"scores": {"x": 0.8, "y": 0.05}}))
    settings = configured(
        tmp_path,
        {"name": "marker", "kind": "stand-in", "thresholds": {"marker": 0.3}},
        {
            "name": "remote",
            "url": service.url,
            "score_paths": {"*": "scores"},
            "thresholds": {"x": 0.9, "y": 0.01},
        },
    )
    classifiers = ClassifierSet.from_settings(settings)
    assert classifiers
    assert classifiers.names == ["marker", "remote"]
    outcome = classifiers.classify(ClassifierInput(data=marked(0.5), media_type="image/png"))
    got = {
        (s.classifier, s.label): (round(s.score, 2), s.threshold, s.over_threshold)
        for s in outcome.scores
    }
    assert got == {
        ("marker", "marker"): (0.5, 0.3, True),
        ("remote", "x"): (0.8, 0.9, False),
        ("remote", "y"): (0.05, 0.01, True),
    }
    assert outcome.errors == {}
    assert outcome.needs_review
    assert outcome.top is not None
    assert (outcome.top.classifier, outcome.top.label) == ("marker", "marker")
    summary = outcome.summary()
    assert json.loads(json.dumps(summary)) == summary  # JSON-safe for events and signals
    classifiers.close()


def test_a_score_without_a_threshold_never_asks_for_review(tmp_path: Path) -> None:
    classifiers = ClassifierSet.from_settings(
        configured(tmp_path, {"name": "marker", "kind": "stand-in"})
    )
    outcome = classifiers.classify(ClassifierInput(data=marked(1.0)))
    assert [(s.score, s.threshold, s.over_threshold) for s in outcome.scores] == [
        (1.0, None, False)
    ]
    assert not outcome.needs_review


def test_a_failing_classifier_is_an_error_entry_not_an_exception(
    tmp_path: Path, service: FakeService, caplog: pytest.LogCaptureFixture
) -> None:
    service.script(Reply(raw=b"not json"))
    settings = configured(
        tmp_path,
        {"name": "remote", "url": service.url, "retries": 0},
        {"name": "raises", "kind": "raises"},
        {"name": "marker", "kind": "stand-in", "thresholds": {"marker": 0.5}},
    )
    found = [point("raises", f"{SAMPLES}:Raises")]
    classifiers = ClassifierSet.from_settings(settings, entry_points_found=found)
    with caplog.at_level(logging.WARNING, logger="shieldwall"):
        outcome = classifiers.classify(ClassifierInput(data=marked(0.9)))
    assert outcome.errors == {
        "raises": "failed unexpectedly (ValueError)",
        "remote": "the reply is not JSON",
    }
    assert [s.classifier for s in outcome.scores] == ["marker"]
    assert outcome.needs_review  # the classifier that answered still counts
    assert "internal detail" not in caplog.text
    assert "classifier.failed" in caplog.text


def test_a_reply_nested_too_deeply_is_not_json(tmp_path: Path, service: FakeService) -> None:
    service.script(Reply(raw=b"[" * 100_000 + b"]" * 100_000))
    settings = configured(tmp_path, {"name": "remote", "url": service.url, "retries": 0})
    outcome = ClassifierSet.from_settings(settings).classify(ClassifierInput(data=marked(0.9)))
    assert outcome.errors == {"remote": "the reply is not JSON"}


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        ([0.5], "returned list, not label -> score"),
        ({"s": float("nan")}, "returned a non-finite score for 's'"),
        ({"s": float("inf")}, "returned a non-finite score for 's'"),
        ({"s": "0.5"}, "returned a non-numeric score for 's'"),
        ({"s": True}, "returned a non-numeric score for 's'"),
    ],
)
def test_garbage_from_a_plug_in_is_refused(tmp_path: Path, reply: object, message: str) -> None:
    settings = configured(tmp_path, {"name": "g", "kind": "garbage", "options": {"reply": reply}})
    found = [point("garbage", f"{SAMPLES}:Garbage")]
    outcome = ClassifierSet.from_settings(settings, entry_points_found=found).classify(CONTENT)
    assert outcome.errors == {"g": message}
    assert outcome.scores == []


@pytest.mark.parametrize(
    ("target", "problem"),
    [
        (None, "unknown kind 'acme'; installed kinds: http, stand-in"),
        ("tests.no_such_module:X", "could not be loaded (ModuleNotFoundError"),
        (f"{SAMPLES}:NoSuchName", "could not be loaded (AttributeError"),
        (
            f"{SAMPLES}:failing_factory",
            "could not be loaded (RuntimeError: the model file is missing)",
        ),
        (
            f"{SAMPLES}:not_a_classifier",
            "built a object, which has no 'name' and 'classify(content)'",
        ),
        (f"{SAMPLES}:SizeClassifier.per_byte", "could not be loaded"),
    ],
)
def test_a_broken_plug_in_is_reported_and_start_up_goes_on(
    tmp_path: Path, target: str | None, problem: str, caplog: pytest.LogCaptureFixture
) -> None:
    settings = configured(
        tmp_path,
        {"name": "broken", "kind": "acme"},
        {"name": "marker", "kind": "stand-in", "thresholds": {"marker": 0.5}},
    )
    found = [] if target is None else [point("acme", target)]
    with caplog.at_level(logging.ERROR, logger="shieldwall"):
        classifiers = ClassifierSet.from_settings(settings, entry_points_found=found)
    assert problem in classifiers.problems["broken"]
    assert classifiers.names == ["marker"]
    assert "classifier.not_loaded" in caplog.text
    outcome = classifiers.classify(ClassifierInput(data=marked(0.6)))
    assert outcome.errors["broken"].startswith("not loaded: ")
    assert outcome.needs_review  # the working classifier still routes content


def test_only_broken_plug_ins_still_count_as_configured(tmp_path: Path) -> None:
    settings = configured(tmp_path, {"name": "broken", "kind": "acme"})
    classifiers = ClassifierSet.from_settings(settings, entry_points_found=[])
    assert classifiers  # so callers run it and record the error instead of skipping silently
    assert set(classifiers.classify(CONTENT).errors) == {"broken"}


def test_disabled_classifiers_are_not_loaded(tmp_path: Path) -> None:
    settings = configured(tmp_path, {"name": "off", "kind": "acme", "enabled": False})
    classifiers = ClassifierSet.from_settings(settings, entry_points_found=[])
    assert not classifiers
    assert classifiers.problems == {}


def test_the_built_in_kinds_are_registered_entry_points() -> None:
    found = {p.name: p for p in entry_points(group=ENTRY_POINT_GROUP)}
    assert found["stand-in"].load() is StandInClassifier
    assert found["http"].value == "shieldwall.integrations.classifiers.http:HttpClassifier"


def test_an_installed_package_s_entry_point_is_discovered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real distribution on sys.path (dist-info with entry_points.txt), no test seam."""
    site = tmp_path / "site"
    (site / "acme_classifier").mkdir(parents=True)
    (site / "acme_classifier" / "__init__.py").write_text(
        textwrap.dedent(
            """
            class Acme:
                def __init__(self, config):
                    self.name = config.name

                def classify(self, content):
                    return {"bytes": float(len(content.data))}
            """
        )
    )
    dist = site / "acme_classifier-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-classifier\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\nacme = acme_classifier:Acme\n")
    monkeypatch.syspath_prepend(str(site))
    settings = configured(tmp_path, {"name": "acme-one", "kind": "acme"})
    classifiers = ClassifierSet.from_settings(settings)
    assert classifiers.problems == {}
    outcome = classifiers.classify(ClassifierInput(data=b"12345"))
    assert [(s.classifier, s.label, s.score) for s in outcome.scores] == [
        ("acme-one", "bytes", 5.0)
    ]


def test_classifiers_run_side_by_side(tmp_path: Path) -> None:
    """'a' is held until 'b' has been called: run one after the other, 'a' would time out."""
    with FakeService() as a, FakeService() as b:
        a.script(Reply(json_body={"score": 0.1}, hold=True))
        b.script(Reply(json_body={"score": 0.2}))

        def release_a_when_b_is_called() -> None:
            deadline = time.monotonic() + 10
            while not b.received and time.monotonic() < deadline:
                time.sleep(0.01)
            a.release()

        watcher = threading.Thread(target=release_a_when_b_is_called)
        watcher.start()
        settings = configured(
            tmp_path,
            {"name": "a", "url": a.url, "timeout_seconds": 5, "retries": 0},
            {"name": "b", "url": b.url, "retries": 0},
        )
        classifiers = ClassifierSet.from_settings(settings)
        outcome = classifiers.classify(CONTENT)
        watcher.join()
        assert outcome.errors == {}
        assert [(s.classifier, s.score) for s in outcome.scores] == [("a", 0.1), ("b", 0.2)]
        classifiers.close()
        classifiers.close()  # twice is fine


# ---- settings -------------------------------------------------------------------------------


def test_classifiers_from_the_environment_as_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "SHIELDWALL_CLASSIFIERS",
        json.dumps(
            [
                {
                    "name": "remote",
                    "url": "https://classifier.example/v1",
                    "headers": {"Authorization": "Bearer env-secret"},
                    "thresholds": {"score": 0.8},
                },
                {"name": "marker", "kind": "stand-in"},
            ]
        ),
    )
    settings = Settings(data_dir=tmp_path)
    assert [c.name for c in settings.classifiers] == ["remote", "marker"]
    assert settings.classifiers[0].thresholds == {"score": 0.8}
    assert settings.classifiers[0].headers["Authorization"].get_secret_value() == (
        "Bearer env-secret"
    )
    shown = settings.display()
    assert "env-secret" not in json.dumps(shown, default=str)
    assert shown["classifiers"][0]["headers"] == {"Authorization": "**********"}
    assert shown["classifiers"][1]["kind"] == "stand-in"


def test_classifiers_from_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "shieldwall.toml"
    config.write_text(
        textwrap.dedent(
            """
            [[classifiers]]
            name = "remote"
            url = "https://classifier.example/v1/score"
            send = "url"
            score_paths = { csam = "result.csam.score" }
            thresholds = { csam = 0.7 }
            timeout_seconds = 5
            retries = 1
            breaker_failures = 10

            [classifiers.headers]
            Authorization = "Bearer toml-secret"

            [[classifiers]]
            name = "marker"
            kind = "stand-in"
            options = { colour = "#00ff00", tolerance = 30 }
            """
        )
    )
    monkeypatch.setenv("SHIELDWALL_CONFIG_FILE", str(config))
    settings = Settings(data_dir=tmp_path)
    remote, marker = settings.classifiers
    assert remote.send == "url"
    assert remote.score_paths == {"csam": "result.csam.score"}
    assert remote.breaker_failures == 10
    assert marker.options == {"colour": "#00ff00", "tolerance": 30}


def test_two_classifiers_with_one_name_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="two classifiers are called 'x'"):
        configured(tmp_path, {"name": "x", "kind": "stand-in"}, {"name": "x", "kind": "stand-in"})
