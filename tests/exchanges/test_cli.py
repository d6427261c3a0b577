"""``shieldwall exchange``, driven through Typer's test runner against the test database."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from shieldwall.banks.models import Bank
from shieldwall.cli import app
from shieldwall.config import Settings
from shieldwall.db.engine import Database
from shieldwall.devtools.fake_stopncii import FakeStopNcii, pdq_for, record
from tests.exchanges.conftest import STOPNCII_CREDENTIALS, live_values

pytestmark = pytest.mark.db


@pytest.fixture(autouse=True)
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("SHIELDWALL_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SHIELDWALL_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("SHIELDWALL_DATABASE_URL", settings.effective_database_url)
    monkeypatch.setenv("SHIELDWALL_EXCHANGE_ALLOW_PRIVATE_ADDRESSES", "true")
    monkeypatch.setenv("COLUMNS", "250")


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def ok(*args: str) -> Result:
    result = run(*args)
    assert result.exit_code == 0, result.output
    return result


def test_add_fetch_status_list(
    stopncii: tuple[FakeStopNcii, str], bank: Bank, db: Database, tmp_path: Path
) -> None:
    fake, url = stopncii
    fake.set_records(
        [record(pdq_for(i), ts=1_700_000_000 + i) for i in range(12)]
        + [record("abc", ts=1_700_000_100)]
    )
    secrets = tmp_path / "stopncii.json"
    secrets.write_text(json.dumps(STOPNCII_CREDENTIALS))
    added = ok(
        "exchange",
        "add",
        "stopncii",
        "--type",
        "stop_ncii",
        "--bank",
        bank.name,
        "--setting",
        f"base_url={url}",
        "--setting",
        "page_size=5",
        "--credentials-file",
        str(secrets),
        "--schedule-minutes",
        "0",
        "--label",
        "ncii",
    )
    assert "added stop_ncii exchange stopncii" in added.output
    fetched = ok("exchange", "fetch", "stopncii")
    assert "succeeded" in fetched.output
    assert "+12" in fetched.output
    assert len(live_values(db, bank.id)) == 12
    status = ok("exchange", "status", "stopncii").output
    assert "quarantine (1)" in status
    assert "64 hex characters" in status
    listed = ok("exchange", "list").output
    assert "stopncii" in listed
    assert "stop_ncii" in listed
    for secret in STOPNCII_CREDENTIALS.values():
        assert secret not in added.output + fetched.output + status + listed


def test_a_failed_fetch_exits_1_with_the_reason(
    stopncii: tuple[FakeStopNcii, str], bank: Bank
) -> None:
    _fake, url = stopncii
    ok(
        "exchange",
        "add",
        "bad",
        "--type",
        "stop_ncii",
        "--bank",
        bank.name,
        "--setting",
        f"base_url={url}",
        "--credential",
        "subscription_key=no",
        "--credential",
        "fetch_function_key=no",
        "--schedule-minutes",
        "0",
    )
    result = run("exchange", "fetch", "bad")
    assert result.exit_code == 1
    assert "401" in result.output


def test_a_list_of_bare_hashes_with_its_signal_type(
    bank: Bank, db: Database, tmp_path: Path
) -> None:
    hashes = tmp_path / "md5.txt"
    hashes.write_text("".join(f"{pdq_for(i)[:32]}\n" for i in range(4)))
    common = ("--type", "local_file", "--bank", bank.name, "--setting", f"path={hashes}")
    ok("exchange", "add", "md5-list", *common, "--setting", "signal_type=md5")
    assert "+4" in ok("exchange", "fetch", "md5-list").output
    assert sorted(live_values(db, bank.id)) == sorted(("md5", pdq_for(i)[:32]) for i in range(4))
    refused = run("exchange", "add", "other", *common, "--setting", "signal_type=photodna")
    assert refused.exit_code == 2
    assert "signal_type" in refused.output


def test_bad_input_and_unknown_names_exit_2(bank: Bank) -> None:
    result = run("exchange", "add", "x", "--type", "ncmec", "--bank", bank.name)
    assert result.exit_code == 2
    assert "credentials.username: Field required" in result.output
    assert run("exchange", "fetch", "nope").exit_code == 2
    assert (
        run(
            "exchange", "add", "y", "--type", "url", "--bank", bank.name, "--setting", "nonsense"
        ).exit_code
        == 2
    )


def test_share_prints_the_signing_key(bank: Bank) -> None:
    shared = ok("exchange", "share", bank.name)
    key = ok("exchange", "signing-key").output.strip()
    assert key.startswith("ed25519:")
    assert key in shared.output
    ok("exchange", "unshare", bank.name)
    assert run("exchange", "unshare", bank.name).exit_code == 2
