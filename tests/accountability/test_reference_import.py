"""The importers on the real shared files: row counts, NCMEC's printed totals, known
companies' numbers, alias mapping, idempotent re-import, bad files rejected whole."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from shieldwall.accountability import analysis, repository, service
from shieldwall.accountability.importing import import_reference
from shieldwall.accountability.loaders import FileRejected
from shieldwall.accountability.loaders import ncmec as ncmec_loader
from shieldwall.accountability.models import (
    Commitment,
    Company,
    Disclosure,
    NcmecCount,
    NcmecTotal,
    Statement,
)
from shieldwall.accountability.schemas import ImportSummary, Metric, name_key
from shieldwall.db.engine import Database

pytestmark = pytest.mark.db

#: NCMEC's printed ESP totals ("Total"/"Totals:" lines of each year's by-ESP table).
PRINTED_ESP_TOTALS = {
    2019: 16_836_694,
    2020: 21_447_786,
    2021: 29_157_083,
    2022: 31_802_525,
    2023: 35_944_826,
}
ROWS_PER_YEAR = {2019: 148, 2020: 168, 2021: 230, 2022: 236, 2023: 247}


def count(db: Database, model: type) -> int:
    with db.session() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_every_reference_file_applies(loaded: ImportSummary) -> None:
    applied = {f.dataset for f in loaded.files if f.applied}
    for dataset in (
        "registry",
        "commitments/principles.csv",
        "commitments/endorsements.csv",
        "commitments/memberships.csv",
        "commitments/aggregate-statements.csv",
        "ncmec/reports-per-year.csv",
        "ncmec/reports-by-esp.csv",
        "disclosures/ocse-reports-per-platform.json",
        "disclosures/meta",
        "disclosures/discord/discord-2023-q4.csv",
        "disclosures/microsoft/microsoft-2023-h2.xlsx",
    ):
        assert dataset in applied, dataset
    assert not [f for f in loaded.files if f.errors]
    # files no loader reads are listed with the reason, not silently ignored
    skipped = {f.dataset: f.skipped for f in loaded.files if not f.applied}
    assert "disclosures/x/x-2024-h1.pdf" in skipped
    assert any("not machine-readable" in s for s in skipped["disclosures/x/x-2024-h1.pdf"])


def test_row_counts(db: Database, loaded: ImportSummary) -> None:
    assert count(db, NcmecCount) == 1029
    assert count(db, NcmecTotal) == 26
    assert count(db, Statement) == 12
    # 6 launch endorsements + 28 Technology Coalition memberships
    assert count(db, Commitment) == 34
    with db.session() as session:
        per_year = dict(
            session.execute(select(NcmecCount.year, func.count()).group_by(NcmecCount.year)).all()
        )
    assert per_year == ROWS_PER_YEAR


def test_ncmec_rows_add_up_to_the_printed_yearly_totals(
    db: Database, loaded: ImportSummary
) -> None:
    with db.session() as session:
        sums = dict(
            session.execute(
                select(NcmecCount.year, func.sum(NcmecCount.reports)).group_by(NcmecCount.year)
            ).all()
        )
        totals = repository.ncmec_totals(session)
    assert {y: int(v) for y, v in sums.items()} == PRINTED_ESP_TOTALS
    for year, printed in PRINTED_ESP_TOTALS.items():
        assert totals[year].esp_reports == printed
    assert totals[2023].total_reports == 36_210_368
    assert totals[1998].total_reports == 4_560
    assert totals[1998].esp_reports is None


def _ncmec_by_company(db: Database, slug: str) -> dict[int, int]:
    with db.session() as session:
        company = session.scalar(select(Company).where(Company.slug == slug))
        assert company is not None
        out: dict[int, int] = {}
        for row in repository.ncmec_counts(session, company.id):
            out[row.year] = out.get(row.year, 0) + row.reports
        return out


def test_known_companies_numbers(db: Database, loaded: ImportSummary) -> None:
    # PROVENANCE.md: summing every line, not keeping the last, gives these
    assert _ncmec_by_company(db, "microsoft")[2023] == 141_027 + 209 + 1  # + LinkedIn + GitHub
    assert _ncmec_by_company(db, "amazon")[2021] == 27_204 + 6_629  # + Twitch
    meta = _ncmec_by_company(db, "meta")
    assert meta[2019] == 15_884_511  # "Facebook*"
    # Facebook + Instagram + WhatsApp + Threads + Oculus
    assert meta[2023] == 17_838_422 + 11_430_007 + 1_389_618 + 663 + 13
    assert _ncmec_by_company(db, "discord") == {
        2019: 19_480, 2020: 15_324, 2021: 29_606, 2022: 169_800, 2023: 339_412,
    }  # fmt: skip
    with db.session() as session:
        discord = repository.company_by_slug(session, "discord")
        assert discord is not None
        rows = {
            (d.period, d.term): d.value
            for d in repository.disclosures(session, discord.id, Metric.CYBERTIPLINE_REPORTS)
            if d.primary_source
        }
    term = "NCMEC reports: Media Reports + Grooming or Endangerment Escalations"
    assert rows[("2023-Q4", term)] == 55_638 + 317
    assert rows[("2020-H2", term)] == 6_865 + 83  # monthly rows with "1,071" separators


def test_microsoft_workbooks_give_the_ncmec_total_from_the_note(
    db: Database, loaded: ImportSummary
) -> None:
    with db.session() as session:
        rows = session.scalars(
            select(Disclosure).where(
                Disclosure.metric == Metric.CYBERTIPLINE_REPORTS,
                Disclosure.dataset.like("disclosures/microsoft/%"),
            )
        ).all()
        by_period = {d.period: d.value for d in rows}
        restated = session.scalar(
            select(Disclosure).where(
                Disclosure.dataset == "disclosures/microsoft/microsoft-2020-h1.xlsx",
                Disclosure.metric == Metric.ACCOUNTS_ACTIONED,
            )
        )
    assert by_period["2020-H1"] == 32_622
    assert by_period["2023-H2"] == 60_749
    assert len(by_period) == 8
    assert restated is not None
    assert restated.value == 15_935
    assert "restated" in restated.note


def test_meta_keeps_the_newest_snapshot(db: Database, loaded: ImportSummary) -> None:
    with db.session() as session:
        row = session.scalar(
            select(Disclosure)
            .where(
                Disclosure.dataset == "disclosures/meta",
                Disclosure.term == "Content Actioned: Child Endangerment: Sexual Exploitation",
                Disclosure.period == "2022-Q4",
                Disclosure.service_id.is_not(None),
            )
            .order_by(Disclosure.service_id)
        )
    # 25,100,000 in older snapshots, restated to 25,200,000 in the newest one
    assert row is not None
    assert row.value == 25_200_000
    assert "restated" in row.note


def test_aliases_map_ncmec_names_and_list_the_rest(db: Database, loaded: ImportSummary) -> None:
    with db.session() as session:

        def mapped(name: str, year: int) -> tuple[str | None, str | None, bool]:
            row = session.scalar(
                select(NcmecCount).where(NcmecCount.esp_name == name, NcmecCount.year == year)
            )
            assert row is not None, name
            company = session.get(Company, row.company_id) if row.company_id else None
            from shieldwall.accountability.models import Service

            svc = session.get(Service, row.service_id) if row.service_id else None
            return (company.slug if company else None, svc.slug if svc else None, row.combined)

        assert mapped("Facebook*", 2019) == ("meta", None, True)
        assert mapped("Facebook", 2021) == ("meta", "facebook", False)
        assert mapped("Microsoft-  other products", 2022) == (
            "microsoft",
            "microsoft-consumer",
            False,
        )
        assert mapped("Microsoft- other products", 2023) == (
            "microsoft",
            "microsoft-consumer",
            False,
        )
        assert mapped("Snapchat", 2023) == ("snap", "snapchat", False)
        assert mapped("Amazon / Twitch", 2020) == ("amazon", None, True)
        # not in the registry: stays unmapped, never matched by similarity
        assert mapped("Box , Inc. / Box.com", 2022) == (None, None, False)
        unmapped = {u.name: u for u in service.unmapped_names(session)}
    assert "Box , Inc. / Box.com" in unmapped
    assert "Alpha Exploration Co, Inc (d/b/a “Clubhouse)" in unmapped
    assert "Facebook" not in unmapped
    assert "Snapchat" not in unmapped
    assert unmapped["Box , Inc. / Box.com"].years == [2022, 2023]
    assert loaded.unmapped_ncmec_names == len(unmapped)


def test_name_key_is_exact_but_for_case_spaces_and_trailing_commas() -> None:
    assert name_key("Microsoft-  other products") == name_key("microsoft- other products")
    assert name_key("JMS Internet,") == name_key("JMS Internet")
    assert name_key("Facebook*") != name_key("Facebook")  # the footnote needs its own alias
    assert name_key("Apple Inc") != name_key("Apple")


def test_reimport_is_idempotent(db: Database, data_dir: Path, loaded: ImportSummary) -> None:
    with db.engine.connect() as conn:
        before = {
            t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar()
            for t in ("acc_companies", "acc_aliases", "acc_disclosures", "acc_ncmec_counts",
                      "acc_commitments", "acc_imports", "events")
        }  # fmt: skip
    with db.session() as session:
        again = import_reference(session, data_dir, actor="system:tests")
    assert all(f.added == 0 and f.changed == 0 for f in again.files)
    assert sum(f.unchanged for f in again.files) > 2000
    with db.engine.connect() as conn:
        after = {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar() for t in before}
    assert after == before  # no new rows, no new import runs, no events


def test_import_writes_one_event_per_changed_file(db: Database, loaded: ImportSummary) -> None:
    with db.engine.connect() as conn:
        events = conn.execute(
            text("SELECT count(*) FROM events WHERE kind = 'accountability.data_imported'")
        ).scalar()
        runs = conn.execute(text("SELECT count(*) FROM acc_imports")).scalar()
    applied = [f for f in loaded.files if f.applied and (f.added or f.changed)]
    assert events == runs == len(applied)


def _copy_data(src: Path, dst: Path) -> Path:
    shutil.copytree(src / "ncmec", dst / "ncmec")
    shutil.copytree(src / "commitments", dst / "commitments")
    return dst


def test_a_malformed_row_rejects_its_file_with_the_line_and_applies_nothing(
    db: Database, data_dir: Path, tmp_path: Path
) -> None:
    folder = _copy_data(data_dir, tmp_path / "data")
    path = folder / "ncmec" / "reports-by-esp.csv"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[41] = "2019,Some ESP,twelve\n"  # line 42 of the file
    path.write_text("".join(lines), encoding="utf-8")
    with pytest.raises(FileRejected) as caught:
        ncmec_loader.load_counts(path, "ncmec/reports-by-esp.csv")
    assert any(e.line == 42 and "twelve" in e.message for e in caught.value.errors)
    with db.session() as session:
        summary = import_reference(session, folder, actor="system:tests")
    report = {f.dataset: f for f in summary.files}["ncmec/reports-by-esp.csv"]
    assert not report.applied
    assert report.errors[0].line == 42
    assert count(db, NcmecCount) == 0  # nothing of that file
    assert count(db, NcmecTotal) == 26  # the other files still applied
    assert count(db, Commitment) == 34


def test_rows_that_do_not_add_up_to_the_printed_total_are_refused(
    data_dir: Path, tmp_path: Path
) -> None:
    folder = _copy_data(data_dir, tmp_path / "data")
    path = folder / "ncmec" / "reports-by-esp.csv"
    text_ = path.read_text(encoding="utf-8").replace("2019,4chan,1380", "2019,4chan,1381")
    path.write_text(text_, encoding="utf-8")
    with pytest.raises(FileRejected, match="16,836,695"):
        ncmec_loader.load_counts(path, "ncmec/reports-by-esp.csv")


def test_missing_data_folder_imports_nothing(db: Database, tmp_path: Path) -> None:
    with db.session() as session:
        summary = import_reference(session, tmp_path / "nowhere", actor="system:tests")
        assert [f.dataset for f in summary.files] == ["registry"]
        assert repository.fact_count(session) == 0


def test_adoption_answers_from_the_rows(db: Database, loaded: ImportSummary) -> None:
    with db.session() as session:
        result = analysis.adoption(session)
        endorsers = sorted(c.slug for c, _ in result.endorsements)
        assert endorsers == ["google", "meta", "microsoft", "roblox", "snap", "x"]
        assert len(result.members) == 28
        assert len(result.members_endorsed) == 6
        # the other 22 are "not known", never "did not endorse"
        assert len(result.members_not_known) == 22
        side = {(s.statement.statement, s.statement.value): s for s in result.statements}
        assert side[("companies that had endorsed", 16.0)].tracker_value == 6
        assert side[("members", 18.0)].tracker_value == 18
        not_endorsed = side[("Technology Coalition members that had not endorsed", 13.0)]
        assert not_endorsed.tracker_value is None
        assert "16 not known" in not_endorsed.tracker_note
