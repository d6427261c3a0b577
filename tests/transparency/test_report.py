"""Exact numbers from a known event log; schema validity; suppression; an empty period."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from shieldwall.config import Settings
from shieldwall.db.engine import Database
from shieldwall.transparency import capabilities, service, validation
from shieldwall.transparency.metrics import METRICS, median, p90
from shieldwall.transparency.periods import Period
from tests.transparency.conftest import H1, known_log

ROOT = Path(__file__).resolve().parents[2]


def build(db: Database, settings: Settings, period: Period = H1) -> dict[str, Any]:
    with db.session() as session:
        return service.build_report(session, settings, period)


def metric(report: dict[str, Any], metric_id: str) -> dict[str, Any]:
    return next(m for m in report["sections"]["outcomes"]["metrics"] if m["id"] == metric_id)


def cells(item: dict[str, Any]) -> dict[tuple[tuple[str, str], ...], Any]:
    return {
        tuple(sorted(row["key"].items())): row.get("value", row.get("suppressed"))
        for row in item.get("breakdown", [])
    }


def test_exact_numbers_from_a_known_log(known: Database, open_settings: Settings) -> None:
    report = build(known, open_settings)
    assert validation.problems(report) == []
    values = {m["id"]: m.get("value") for m in report["sections"]["outcomes"]["metrics"]}
    assert values["content_scanned"] == 17  # 12 scans + 5 in a bulk back-scan; not July's
    assert cells(metric(report, "content_scanned")) == {
        (("verdict", "allow"),): 13,
        (("verdict", "review"),): 2,
        (("verdict", "block"),): 2,
    }
    assert values["content_matched"] == 4
    assert values["bank_matches"] == 4
    assert cells(metric(report, "bank_matches")) == {
        (("bank", "A"),): 2,
        (("bank", "B"),): 2,
        (("signal_type", "pdq"),): 2,
        (("signal_type", "md5"),): 2,
        (("label", "x"),): 3,
        (("label", "y"),): 1,
        (("label", "(none)"),): 1,
    }
    assert values["cases_opened"] == 5
    assert cells(metric(report, "cases_opened")) == {
        (("source", s),): 1
        for s in ("hash_match", "classifier", "user_report", "survivor_request", "appeal")
    }
    assert values["decisions"] == 4
    assert cells(metric(report, "decisions")) == {
        (("label", "A1"), ("outcome", "violating")): 1,
        (("label", "A2"), ("outcome", "violating")): 1,
        (("label", "(none)"), ("outcome", "not_violating")): 2,
    }
    assert values["content_actioned"] == 2
    assert values["accounts_actioned"] == 1
    assert values["reports_sent_ncmec"] == 2
    assert values["reports_sent_other_hotlines"] == 1
    assert cells(metric(report, "reports_sent_other_hotlines")) == {
        (("destination", "cybertip_ca"),): 1
    }
    assert values["report_files_sent"] == 6
    assert values["user_reports_received"] == 1
    assert values["takedown_requests_received"] == 3
    assert values["takedown_requests_approved"] == 3
    assert values["takedown_requests_declined"] == 0
    # 1 h, 2 h, 4 h: median 2 h; nearest-rank p90 = the 3rd of 3 = 4 h
    assert values["takedown_time_to_in_place_median"] == 7200
    assert values["takedown_time_to_in_place_p90"] == 14400
    assert values["appeals_received"] == 1
    assert values["appeals_reversed"] == 1
    # case 1: opened 10:00, first action 10:30 (the suspension at 11:00 is not first);
    # case 2: opened 10:00, action 11:00. Median of 1800 and 3600; p90 the 2nd of 2.
    assert values["time_detection_to_action_median"] == 2700
    assert values["time_detection_to_action_p90"] == 3600
    # user report 08:00, its case decided 11:00
    assert values["time_user_report_to_decision_median"] == 10800
    assert values["search_deterrence_shown"] == 4  # the last minute of June counts
    assert cells(metric(report, "search_deterrence_shown")) == {
        (("decision", "warned"),): 2,
        (("decision", "blocked"),): 2,
    }
    assert values["conversations_flagged"] == 0
    # trend: 2025 H2 had two scans
    trend = metric(report, "content_scanned")["trend"]
    assert trend == [{"period": {"start": "2025-07-01", "end": "2025-12-31"}, "value": 2}]
    assert report["period"] == {"start": "2026-01-01", "end": "2026-06-30", "label": "2026 H1"}
    assert report["event_log"]["events_in_period"] == len(
        [e for e in known_log() if H1.contains(e[3])]
    )


def test_every_metric_has_a_definition_principles_and_a_trace(
    known: Database, open_settings: Settings
) -> None:
    report = build(known, open_settings)
    metrics = report["sections"]["outcomes"]["metrics"]
    assert [m["id"] for m in metrics] == [m.id for m in METRICS]
    for item in metrics:
        assert len(item["definition"]) > 40
        assert item["principles"]
        assert item["trace"] == (
            f"shieldwall transparency explain {item['id']} --from 2026-01-01 --to 2026-06-30"
        )


def test_small_counts_are_suppressed(known: Database, settings: Settings) -> None:
    report = build(known, settings)  # the default floor, 10
    assert validation.problems(report) == []
    assert report["privacy"]["suppression_floor"] == 10
    scanned = metric(report, "content_scanned")
    assert scanned["value"] == 17
    assert cells(scanned) == {
        (("verdict", "allow"),): 13,
        (("verdict", "review"),): {"below": 10},
        (("verdict", "block"),): {"below": 10},
    }
    for metric_id in ("cases_opened", "reports_sent_ncmec", "takedown_requests_received"):
        item = metric(report, metric_id)
        assert item["suppressed"] == {"below": 10}
        assert "value" not in item
    # times resting on fewer than 10 pairs are withheld too
    assert metric(report, "takedown_time_to_in_place_median")["suppressed"] == {"below": 10}
    # zero reveals nobody and is published
    assert metric(report, "takedown_requests_declined")["value"] == 0
    # the trend is suppressed the same way (2 scans in 2025 H2)
    assert metric(report, "content_scanned")["trend"][0]["suppressed"] == {"below": 10}


def test_a_lone_hidden_cell_takes_the_next_smallest_with_it() -> None:
    rows = service.breakdown(
        {(("v", "a"),): 40, (("v", "b"),): 12, (("v", "c"),): 3}, 10, total_published=True
    )
    assert [r.get("value", "hidden") for r in rows] == [40, "hidden", "hidden"]
    rows = service.breakdown({(("v", "a"),): 40, (("v", "c"),): 3}, 10, total_published=False)
    assert [r.get("value", "hidden") for r in rows] == [40, "hidden"]


def test_a_period_without_events_is_an_honest_empty_report(
    db: Database, settings: Settings
) -> None:
    period = Period(date(2020, 1, 1), date(2020, 6, 30))
    report = build(db, settings, period)
    assert validation.problems(report) == []
    assert report["empty"] is True
    assert report["event_log"] == {
        "events_in_period": 0,
        "last_event_id": None,
        "last_event_hash": None,
        "note": report["event_log"]["note"],
    }
    for item in report["sections"]["outcomes"]["metrics"]:
        if item["unit"] == "count":
            assert item["value"] == 0, item["id"]
        else:
            assert item["value"] is None, item["id"]  # no time measured, not "0 seconds"


def test_a_capability_that_is_not_there_says_so(
    db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = capabilities.installed
    monkeypatch.setattr(
        capabilities, "installed", lambda m: False if m == "shieldwall.exchanges" else real(m)
    )
    report = build(db, settings)
    assert validation.problems(report) == []
    item = metric(report, "hashes_received_from_exchanges")
    assert item["available"] is False
    assert "not in place" in item["reason"]
    assert "value" not in item
    p10 = next(p for p in report["principles"] if p["number"] == 10)
    assert p10["status"] == "not_in_place"
    p5 = next(p for p in report["principles"] if p["number"] == 5)
    assert p5["status"] == "not_in_place"


def test_no_user_ids_reviewer_names_or_content(known: Database, open_settings: Settings) -> None:
    text = json.dumps(build(known, open_settings))
    assert "user:99" not in text  # every event's actor in the known log
    assert "user_report:7" not in text


def test_median_and_nearest_rank_p90() -> None:
    assert median([5.0, 1.0, 3.0]) == 3.0
    assert median([1.0, 2.0, 3.0, 10.0]) == 2.5
    assert p90([float(i) for i in range(1, 11)]) == 9.0
    assert p90([float(i) for i in range(1, 12)]) == 10.0
    assert p90([7.0]) == 7.0


def test_the_packaged_schema_equals_the_published_file() -> None:
    published = (ROOT / "schemas" / "transparency-report.schema.json").read_bytes()
    packaged = (
        ROOT / "src" / "shieldwall" / "transparency" / "schema" / "transparency-report.schema.json"
    ).read_bytes()
    assert packaged == published
    assert validation.schema() == json.loads(published)


def test_the_tracker_imports_a_generated_report(known: Database, settings: Settings) -> None:
    from shieldwall.accountability.loaders.transparency import load_report

    report = build(known, settings.model_copy(update={"transparency_suppression_floor": 2}))
    data = json.dumps(report).encode()
    name, batch = load_report(report, data, "test", "", date(2026, 7, 1))
    assert name == "shieldwall deployment"
    by_term = {d.term.split(":")[0]: d.value for d in batch.disclosures}
    assert by_term["Reports sent to NCMEC"] == 2
    assert by_term["Content actioned"] == 2
    # suppressed (1 < 2) is skipped, not stored as zero
    assert any(s.startswith("accounts_actioned: fewer than 2") for s in batch.skipped)
