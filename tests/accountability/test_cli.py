"""``shieldwall accountability`` and the demo seed, against the test database."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from typer.testing import CliRunner, Result

from shieldwall.cli import app
from shieldwall.config import Settings
from shieldwall.db.engine import Database
from shieldwall.demo import seed_demo

pytestmark = pytest.mark.db


@pytest.fixture(autouse=True)
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("SHIELDWALL_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SHIELDWALL_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("SHIELDWALL_DATABASE_URL", settings.effective_database_url)
    monkeypatch.setenv("COLUMNS", "200")


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def scalar(db: Database, sql: str) -> int:
    with db.engine.connect() as conn:
        return int(conn.execute(text(sql)).scalar() or 0)


def test_import_reference_then_export_and_import_back(
    db: Database, data_dir: Path, tmp_path: Path
) -> None:
    result = run("accountability", "import", "--reference", "--data-dir", str(data_dir))
    assert result.exit_code == 0, result.output
    assert "ncmec/reports-by-esp.csv: 1029 rows, 1029 added" in result.output
    assert scalar(db, "SELECT count(*) FROM acc_ncmec_counts") == 1029
    again = run("accountability", "import", "--reference", "--data-dir", str(data_dir))
    assert "ncmec/reports-by-esp.csv: 1029 rows, 0 added, 0 changed, 1029 unchanged" in again.output
    out = tmp_path / "all.json"
    assert run("accountability", "export", "--out", str(out)).exit_code == 0
    document = json.loads(out.read_text())
    assert document["format"] == "shieldwall-accountability"
    assert len(document["commitments"]) == 34
    back = run("accountability", "import", str(out))
    assert back.exit_code == 0, back.output
    assert " 0 added, 0 changed" in back.output
    audit = run("accountability", "audit")
    assert "consistent: 3, inconsistent: 5, not comparable: 25" in audit.output
    csv_out = run("accountability", "export", "--table", "ncmec_totals")
    assert csv_out.output.splitlines()[0].startswith("year,total_reports,esp_reports")


def test_a_bad_file_prints_its_line_and_exits_2(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "companies.csv"
    path.write_text("company,name\nexample,Example\nbroken,\n", encoding="utf-8")
    result = run("accountability", "import", str(path))
    assert result.exit_code == 2
    assert "line 3" in result.output
    assert scalar(db, "SELECT count(*) FROM acc_companies") == 0


def test_demo_seed_loads_the_reference_data(
    settings: Settings, db: Database, data_dir: Path
) -> None:
    seed_demo(db, settings.model_copy(update={"accountability_data_dir": data_dir}))
    assert scalar(db, "SELECT count(*) FROM acc_ncmec_counts") == 1029
    events = scalar(db, "SELECT count(*) FROM events")
    seed_demo(db, settings.model_copy(update={"accountability_data_dir": data_dir}))
    assert scalar(db, "SELECT count(*) FROM events") == events  # nothing new


def test_demo_without_the_data_folder_still_works_and_says_so(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    missing = settings.model_copy(update={"accountability_data_dir": tmp_path / "missing"})
    seed_demo(db, missing)
    assert scalar(db, "SELECT count(*) FROM acc_ncmec_counts") == 0
    from shieldwall.api import create_app

    with TestClient(create_app(missing, database=db), base_url="https://testserver") as client:
        page = client.get("/accountability")
    assert page.status_code == 200
    assert "No reference data was loaded" in page.text
