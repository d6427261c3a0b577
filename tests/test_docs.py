"""The README stays true: every setting is documented, the commands exist."""

from pathlib import Path

from shieldwall.config import Settings

ROOT = Path(__file__).resolve().parents[1]


def test_readme_documents_every_setting() -> None:
    readme = (ROOT / "README.md").read_text()
    missing = [n for n in Settings.model_fields if f"`SHIELDWALL_{n.upper()}`" not in readme]
    assert missing == []


def test_readme_shows_the_two_commands_and_the_makefile_has_them() -> None:
    readme = (ROOT / "README.md").read_text()
    makefile = (ROOT / "Makefile").read_text()
    for target in ("run", "test"):
        assert f"make {target}" in readme
        assert f"\n{target}:" in makefile
