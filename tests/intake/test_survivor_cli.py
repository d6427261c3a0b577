"""``shieldwall survivor hash``: offline hashing on the survivor's device, a request file the
API takes as it is, and clear words for files that cannot be hashed.

Pictures are generated shapes and gradients (shieldwall.demo_media), nothing else.
"""

from __future__ import annotations

import json
import os
import socket
import stat
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from typer.testing import CliRunner, Result

from shieldwall.cli import app
from shieldwall.core.hashing import hash_file
from shieldwall.demo_media import jpeg, stand_in
from shieldwall.intake.offline import build_requests, hash_for_request
from shieldwall.intake.schemas import TakedownRequestIn
from tests.core.hashing.media_samples import small_video


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No network at all, no shieldwall settings, an empty working folder."""

    def refuse(*_: Any, **__: Any) -> Any:
        raise AssertionError("the survivor tool tried to use the network")

    for name in list(os.environ):
        if name.startswith("SHIELDWALL_"):
            monkeypatch.delenv(name)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "200")
    return tmp_path


def run(*args: str) -> Result:
    return CliRunner().invoke(app, ["survivor", "hash", *args])


def picture(folder: Path, name: str, seed: int) -> Path:
    path = folder / name
    path.write_bytes(jpeg(stand_in(seed)))
    return path


def test_it_prints_the_hashes_and_writes_a_request(offline: Path) -> None:
    one = picture(offline, "holiday-photo-of-me.jpg", 1)
    two = picture(offline, "second.jpg", 2)
    result = run(str(one), str(two))
    assert result.exit_code == 0, result.output
    expected = [hash_file(one), hash_file(two)]
    for media in expected:
        assert media.md5 in result.stdout
        assert media.sha256 in result.stdout
        pdq = media.pdq[0]
        assert f"{pdq.hex}  quality {pdq.quality}" in result.stdout
    written = offline / "takedown-request.json"
    request = json.loads(written.read_text())
    assert request == {
        "hashes": [
            item
            for media in expected
            for item in (
                {"signal_type": "md5", "value": media.md5},
                {"signal_type": "sha256", "value": media.sha256},
                {"signal_type": "pdq", "value": media.pdq[0].hex, "quality": media.pdq[0].quality},
            )
        ],
        "on_behalf": False,
    }
    assert "holiday" not in written.read_text()  # no file names leave the device
    assert stat.S_IMODE(written.stat().st_mode) == 0o600
    assert "Nothing was sent" in result.output


def test_unreadable_files_are_named_and_the_others_still_hashed(offline: Path) -> None:
    good = picture(offline, "good.jpg", 3)
    empty = offline / "empty.jpg"
    empty.write_bytes(b"")
    folder = offline / "a-folder"
    folder.mkdir()
    broken = offline / "broken.jpg"
    broken.write_bytes(jpeg(stand_in(4))[:2000])
    flat = offline / "flat.png"
    Image.new("RGB", (200, 200), (40, 40, 40)).save(flat)
    result = run(str(good), "missing.jpg", str(empty), str(folder), str(broken), str(flat))
    assert result.exit_code == 2
    assert "cannot hash missing.jpg: there is no such file" in result.output
    assert f"cannot hash {empty}: the file is empty" in result.output
    assert f"cannot hash {folder}: this is a folder" in result.output
    assert "3 file(s) could not be hashed" in result.output
    # a damaged or flat picture still has exact hashes, with a note saying why no PDQ
    assert "no picture hash" in result.stdout
    request = json.loads((offline / "takedown-request.json").read_text())
    types = [h["signal_type"] for h in request["hashes"]]
    assert types == ["md5", "sha256", "pdq", "md5", "sha256", "md5", "sha256"]
    assert request["hashes"][3]["value"] == hash_for_request(broken).md5


def test_nothing_hashed_means_no_request(offline: Path) -> None:
    result = run("missing.jpg")
    assert result.exit_code == 2
    assert "no request was written" in result.output
    assert not (offline / "takedown-request.json").exists()


def test_optional_details_go_in_only_when_given(offline: Path) -> None:
    one = picture(offline, "a.jpg", 5)
    result = run(
        str(one),
        "--on-behalf",
        "--contact",
        "helpline@example.org",
        "--message",
        "for a young person we support",
        "--category",
        "child_sexual_exploitation",
        "-o",
        str(offline / "out" / "req.json"),
    )
    assert result.exit_code == 0, result.output
    request = json.loads((offline / "out" / "req.json").read_text())
    assert request["on_behalf"] is True
    assert request["contact"] == "helpline@example.org"
    assert request["message"] == "for a young person we support"
    assert request["category"] == "child_sexual_exploitation"


def test_too_many_hashes_are_split_keeping_each_file_whole(offline: Path) -> None:
    files = [str(picture(offline, f"p{n}.jpg", 10 + n)) for n in range(3)]
    result = run(*files, "--max-hashes", "7")
    assert result.exit_code == 0, result.output
    first = json.loads((offline / "takedown-request-1.json").read_text())
    second = json.loads((offline / "takedown-request-2.json").read_text())
    assert [len(first["hashes"]), len(second["hashes"])] == [6, 3]
    assert not (offline / "takedown-request.json").exists()


def test_a_low_quality_picture_hash_is_left_out(tmp_path: Path) -> None:
    """Two flat halves: PDQ quality well under 50, so the hash is shown but not sent."""
    halves = tmp_path / "halves.png"
    image = Image.new("RGB", (256, 256), (120, 120, 120))
    image.paste((0, 0, 0), (0, 0, 256, 128))
    image.save(halves)
    hashed = hash_for_request(halves)
    assert hashed.pdq[0].quality < 50
    assert not hashed.pdq[0].usable
    assert "low quality" in " ".join(hashed.notes)
    (body,) = build_requests([hashed])
    assert [h["signal_type"] for h in body["hashes"]] == ["md5", "sha256"]


@pytest.mark.db
def test_the_request_file_is_accepted_as_it_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, client: TestClient
) -> None:
    monkeypatch.chdir(tmp_path)
    assert run(str(picture(tmp_path, "a.jpg", 6)), "--contact", "me@example.org").exit_code == 0
    text = (tmp_path / "takedown-request.json").read_text()
    TakedownRequestIn.model_validate_json(text)
    response = client.post(
        "/v1/takedown-requests", content=text, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 201, response.text
    assert response.json()["hash_count"] == 3


def test_a_video_gets_video_md5_and_vpdq(offline: Path) -> None:
    clip = offline / "clip.mp4"
    clip.write_bytes(small_video(frames=16, size=(128, 96), fps=4))
    result = run(str(clip))
    assert result.exit_code == 0, result.output
    assert "vpdq" in result.stdout
    request = json.loads((offline / "takedown-request.json").read_text())
    types = [h["signal_type"] for h in request["hashes"]]
    assert types == ["md5", "sha256", "video_md5", "vpdq"]
    assert request["hashes"][3]["value"] == hash_file(clip).vpdq
    TakedownRequestIn.model_validate(request)
