"""``shieldwall survivor hash`` against hostile paths: an output it cannot write, a file it
may not read, symlinks, special files. Every case ends in plain words, never a traceback."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.intake.test_survivor_cli import offline, picture, run

__all__ = ["offline"]  # the fixture, imported for these tests


@pytest.mark.parametrize("where", ["a-folder", "missing/deeper/request.json"])
def test_an_output_that_cannot_be_written_is_named_without_a_traceback(
    offline: Path, where: str
) -> None:
    photo = picture(offline, "photo.jpg", 1)
    (offline / "a-folder").mkdir()
    (offline / "missing").write_text("a file where a folder should be")
    result = run(str(photo), "-o", str(offline / where))
    assert result.exit_code == 2, result.output
    assert "cannot write" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output


def test_a_file_that_may_not_be_read_does_not_stop_the_others(
    offline: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = picture(offline, "good.jpg", 2)
    locked = picture(offline, "locked.jpg", 3)
    locked.chmod(0)
    real_access = os.access

    def access(path: object, mode: int, *args: object, **kwargs: object) -> bool:
        # as root every file is readable: say what an ordinary user's check would say
        if Path(str(path)).name == "locked.jpg":
            return False
        return real_access(path, mode, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "access", access)
    result = run(str(locked), str(good))
    assert "is not readable" not in result.output  # not refused up front as a usage error
    assert result.exit_code in (0, 2), result.output
    request = json.loads((offline / "takedown-request.json").read_text())
    assert {"signal_type": "md5", "value": _md5(good)} in request["hashes"]


def test_symlinks_and_special_files(offline: Path) -> None:
    good = picture(offline, "good.jpg", 4)
    (offline / "link.jpg").symlink_to(good)
    (offline / "dangling.jpg").symlink_to(offline / "nowhere.jpg")
    (offline / "loop").symlink_to(offline / "loop")
    os.mkfifo(offline / "pipe")
    result = run("link.jpg", "dangling.jpg", "loop", "pipe", "-o", "out.json")
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert "cannot hash dangling.jpg" in result.output
    request = json.loads((offline / "out.json").read_text())
    assert {"signal_type": "md5", "value": _md5(good)} in request["hashes"]


def _md5(path: Path) -> str:
    import hashlib

    return hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()
