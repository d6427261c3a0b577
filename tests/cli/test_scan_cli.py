"""``shieldwall hash`` and ``shieldwall scan``: real files, real decoders, a SQLite bank."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.cli.test_cli import CliEnv, ok, run
from tests.cli.test_cli import env as env
from tests.matching.conftest import PDQ_REF, needs_shared

pytestmark = needs_shared


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "uploads"
    (root / "nested").mkdir(parents=True)
    shutil.copy(PDQ_REF / "bridge-mods/aaa-orig.jpg", root / "known.jpg")
    shutil.copy(PDQ_REF / "bridge-mods/blur-a-lot.jpg", root / "nested/blurred.jpg")
    shutil.copy(PDQ_REF / "misc-images/c.png", root / "nested/other.png")
    (root / "nested/notes.txt").write_text("just text\n")
    (root / "nested/broken.jpg").write_bytes((PDQ_REF / "misc-images/b.jpg").read_bytes()[:4000])
    return root


def known_bank(env: CliEnv, tree: Path) -> None:
    hashed = ok("hash", "--format", "local_file", str(tree / "known.jpg")).stdout
    listing = env.root / "known.txt"
    listing.write_text(
        "".join(line + "\n" for line in hashed.splitlines() if line.startswith("pdq "))
    )
    ok("bank", "create", "KNOWN")
    ok("bank", "import", "KNOWN", str(listing), "--format", "local_file")


def rows(path: Path) -> dict[str, dict[str, object]]:
    out = {}
    for line in path.read_text().splitlines():
        row = json.loads(line)
        out[Path(str(row["path"])).name] = row
    return out


def test_hash_prints_pytx_local_file_lines(env: CliEnv, tree: Path) -> None:
    result = ok("hash", "--format", "local_file", str(tree / "known.jpg"))
    kinds = [line.split(" ")[0] for line in result.stdout.splitlines()]
    assert kinds == ["md5", "sha1", "sha256", "pdq"]
    pdq = result.stdout.splitlines()[-1].split(" ")[1]
    assert len(pdq) == 64
    int(pdq, 16)


def test_hash_reports_undecodable_files_and_exits_2(env: CliEnv, tree: Path) -> None:
    result = run("hash", str(tree / "known.jpg"), str(tree / "nested/broken.jpg"))
    assert result.exit_code == 2
    assert "truncated" in result.output
    assert "known.jpg" in result.output  # the good file is still printed


def test_bulk_scan_matches_resumes_and_records_an_event_per_run(env: CliEnv, tree: Path) -> None:
    known_bank(env, tree)
    output = env.root / "scan.jsonl"
    ok("scan", str(tree), "-o", str(output), "--workers", "2")
    found = rows(output)
    assert set(found) == {"known.jpg", "blurred.jpg", "other.png", "notes.txt", "broken.jpg"}
    assert found["known.jpg"]["verdict"] == "block"
    assert found["blurred.jpg"]["verdict"] == "block"
    assert found["other.png"]["verdict"] == "allow"
    assert found["notes.txt"]["media_kind"] == "other"
    assert found["broken.jpg"]["verdict"] == "error"
    assert "truncated" in str(found["broken.jpg"]["error"])

    # An interrupted run: keep two rows and a torn third line; the rerun finishes the rest.
    lines = output.read_text().splitlines()
    output.write_text(lines[0] + "\n" + lines[1] + "\n" + lines[2][:20])
    again = ok("scan", str(tree), "-o", str(output), "--workers", "1")
    assert "skipped 2 already done" in again.output
    final = [
        json.loads(x)
        for x in output.read_text().splitlines()
        if x.startswith('{"path"') and x.endswith("}")
    ]
    assert sorted(Path(r["path"]).name for r in final) == sorted(found)

    with env.session() as s:
        from sqlalchemy import select

        from shieldwall.audit.models import Event

        kinds = [
            e.kind for e in s.scalars(select(Event).where(Event.kind == "scan.bulk_completed"))
        ]
    assert kinds == ["scan.bulk_completed", "scan.bulk_completed"]


def test_bulk_scan_to_csv(env: CliEnv, tree: Path) -> None:
    known_bank(env, tree)
    output = env.root / "scan.csv"
    ok("scan", str(tree), "-o", str(output), "--workers", "1")
    text = output.read_text().splitlines()
    assert text[0].startswith("path,size,media_kind,verdict")
    assert len(text) == 6
    assert any("known.jpg" in line and ",block," in line for line in text)
