from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from shieldwall.config import Settings, load_settings


def test_defaults_point_at_the_embedded_database(monkeypatch: pytest.MonkeyPatch,
                                                 tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("SHIELDWALL_DATABASE_URL", "SHIELDWALL_DATA_DIR", "SHIELDWALL_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)
    s = load_settings()
    assert s.effective_database_url == "sqlite:///var/shieldwall.db"
    assert s.is_sqlite
    assert s.base_url == "http://127.0.0.1:8000"


def test_environment_overrides_toml_file(monkeypatch: pytest.MonkeyPatch,
                                         tmp_path: Path) -> None:
    cfg = tmp_path / "sw.toml"
    cfg.write_text('port = 9001\nlog_level = "debug"\nlogin_max_failures = 7\n')
    monkeypatch.setenv("SHIELDWALL_CONFIG_FILE", str(cfg))
    monkeypatch.setenv("SHIELDWALL_PORT", "9100")
    s = load_settings()
    assert s.port == 9100
    assert s.log_level == "debug"
    assert s.login_max_failures == 7


def test_missing_config_file_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHIELDWALL_CONFIG_FILE", "/nonexistent/sw.toml")
    with pytest.raises(FileNotFoundError, match=r"/nonexistent/sw\.toml"):
        load_settings()


@pytest.mark.parametrize(("field", "value"), [
    ("port", 0), ("port", "eighty"), ("database_url", "not a url"), ("log_level", "loud"),
    ("unknown_knob", 1),
])
def test_bad_values_are_refused(field: str, value: object) -> None:
    with pytest.raises(ValidationError):
        Settings(**{field: value})


def test_display_masks_secrets(tmp_path: Path) -> None:
    s = Settings(
        data_dir=tmp_path,
        secret_key="super-secret-value",
        database_url="postgresql+psycopg://sw:db-password@db.internal/sw",
    )
    shown = s.display()
    text = repr(shown)
    assert "super-secret-value" not in text
    assert "db-password" not in text
    assert shown["secret_key"] == "********"
    assert shown["database_url"] == "postgresql+psycopg://sw:***@db.internal/sw"


def test_generated_secret_is_stable_and_private(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path / "var")
    first = s.resolved_secret_key()
    assert len(first) >= 32
    assert Settings(data_dir=tmp_path / "var").resolved_secret_key() == first
    assert (tmp_path / "var" / "secret_key").stat().st_mode & 0o777 == 0o600
