"""``shieldwall bank``, driven through Typer's test runner against the test database."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from shieldwall.audit import repository as audit_repository
from shieldwall.banks import repository
from shieldwall.cli import app
from shieldwall.config import Settings
from shieldwall.db.engine import Database
from tests.banks.conftest import BankFactory, entries_of, md5_of, pdq_of

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


def run(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(app, list(args), input=input)


def ok(*args: str, input: str | None = None) -> Result:
    result = run(*args, input=input)
    assert result.exit_code == 0, result.output
    return result


def test_create_list_show(db: Database) -> None:
    result = ok(
        "bank",
        "create",
        "NCMEC_CSAM",
        "--label",
        "A1",
        "--label",
        "B1",
        "--pdq-threshold",
        "20",
        "--description",
        "from the test",
        "--dihedral",
    )
    assert "created block bank NCMEC_CSAM" in result.output
    ok("bank", "create", "FP", "--kind", "allow")
    with db.session() as s:
        bank = repository.get_bank_by_name(s, "NCMEC_CSAM")
        assert bank is not None
        assert (bank.labels, bank.pdq_threshold, bank.dihedral) == (["A1", "B1"], 20, True)
        events = audit_repository.list_events(s, subject=f"bank:{bank.id}")
        assert [(e.kind, e.actor) for e in events] == [("bank.created", "system:cli")]
    listing = ok("bank", "list").stdout
    assert "NCMEC_CSAM" in listing
    assert "FP" in listing
    assert "A1 B1" in listing
    shown = ok("bank", "show", "NCMEC_CSAM").stdout
    assert "from the test" in shown
    assert "pdq threshold" in shown


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("bank", "create", "lower"), "name"),
        (("bank", "create", "FP2", "--kind", "allow", "--action", "review"), "block banks only"),
        (("bank", "show", "NOPE"), "no bank named 'NOPE'"),
        (("bank", "delete", "NOPE", "--yes"), "no bank named 'NOPE'"),
    ],
)
def test_mistakes_exit_2_with_a_message(args: tuple[str, ...], message: str) -> None:
    result = run(*args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_pdq_threshold_out_of_range_is_refused() -> None:
    result = run("bank", "create", "X", "--pdq-threshold", "65")
    assert result.exit_code == 2
    assert "--pdq-threshold" in result.output
    assert "64" in result.output


def test_import_prints_counts_and_first_rejections(
    make_bank: BankFactory, db: Database, tmp_path: Path
) -> None:
    bank = make_bank("IMP", labels=["A1"])
    path = tmp_path / "list.csv"
    path.write_text(
        "signal_type,value,labels,source_record_id,quality\n"
        + "".join(f"md5,{md5_of(i)},A1,,\n" for i in range(5))
        + f"pdq,{pdq_of(1)[:32]},,,\n"
        + f"md5,{md5_of(0)},,,\n"
    )
    result = ok("bank", "import", "IMP", str(path))
    assert "5 added, 1 duplicate(s), 0 revived, 1 rejected" in result.output
    assert "warning: 1 line(s) were rejected" in result.output
    assert "line 7:" in result.output
    assert len(entries_of(db, bank.id)) == 5


def test_import_formats_by_option_and_fatal_files(
    make_bank: BankFactory, db: Database, tmp_path: Path
) -> None:
    bank = make_bank("FMT")
    path = tmp_path / "signals.list"
    path.write_text(f"md5 {md5_of(1)}\n# comment\npdq {pdq_of(1)}\n")
    result = run("bank", "import", "FMT", str(path))
    assert result.exit_code == 2
    assert "extension" in result.output
    result = ok("bank", "import", "FMT", str(path), "--format", "local_file")
    assert "2 added" in result.output
    assert "warning" not in result.output

    binary = tmp_path / "photo.csv"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    result = run("bank", "import", "FMT", str(binary))
    assert result.exit_code == 2
    assert "not UTF-8" in result.output
    assert len(entries_of(db, bank.id)) == 2

    bad = tmp_path / "bad.txt"
    bad.write_text("".join(f"md5 nothex{i}\n" for i in range(4)))
    result = run("bank", "import", "FMT", str(bad), "--max-rejected", "3")
    assert result.exit_code == 2
    assert "more than 3 lines were rejected" in result.output
    assert len(entries_of(db, bank.id)) == 2


def test_export_to_a_file_and_to_stdout(make_bank: BankFactory, tmp_path: Path) -> None:
    make_bank("EXP")
    source = tmp_path / "in.jsonl"
    source.write_text(
        "".join(
            json.dumps({"signal_type": "md5", "value": md5_of(i), "labels": []}) + "\n"
            for i in range(3)
        )
    )
    ok("bank", "import", "EXP", str(source))
    target = tmp_path / "out.csv"
    result = ok("bank", "export", "EXP", "-o", str(target))
    assert "exported EXP" in result.output
    lines = target.read_text().splitlines()
    assert lines[0] == "signal_type,value,labels,source_record_id,quality"
    assert len(lines) == 4
    stdout = ok("bank", "export", "EXP", "--format", "local_file").stdout
    assert stdout.splitlines() == [f"md5 {md5_of(i)}" for i in range(3)]


def test_delete_asks_unless_yes(make_bank: BankFactory, db: Database, tmp_path: Path) -> None:
    bank = make_bank("DEL")
    path = tmp_path / "a.txt"
    path.write_text(f"md5 {md5_of(1)}\n")
    ok("bank", "import", "DEL", str(path))
    refused = run("bank", "delete", "DEL", input="n\n")
    assert refused.exit_code != 0
    assert "Aborted" in refused.output
    with db.session() as s:
        assert repository.get_bank_by_name(s, "DEL") is not None
    result = ok("bank", "delete", "DEL", "--yes")
    assert "deleted bank DEL; 1 entries removed" in result.output
    with db.session() as s:
        assert repository.get_bank_by_name(s, "DEL") is None
    assert all(e.removed_at is not None for e in entries_of(db, bank.id))


def test_help_lists_the_bank_commands() -> None:
    result = ok("bank", "--help")
    for command in ("create", "list", "show", "import", "export", "delete"):
        assert command in result.output
