"""The CLI with hostile files and arguments (found by fuzzing): a FIFO, a device, a file
that fails to read, a folder or nothing where a file is named; bytes that are not UTF-8 in
an argument; ids and day counts past what the database and dates hold; an output that is
a folder, someone else's file or a full disk. Each gets plain words and exit status 2:
never a hang, a traceback, unbounded memory or a user's file overwritten."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from shieldwall.cli import app
from shieldwall.cli.files import read_input_file
from shieldwall.config import Settings
from shieldwall.core.errors import InvalidInput
from shieldwall.db.engine import Database
from shieldwall.matching.bulk import FIELDS, check_output
from tests.conftest import cli_settings

pytestmark = pytest.mark.db

#: Bytes that are not UTF-8, as Python hands them over from argv (surrogateescape).
NOT_TEXT = b"\xed\xa0\x80".decode("utf-8", "surrogateescape")
FULL = Path("/dev/full")
MEM = Path("/proc/self/mem")


@pytest.fixture(autouse=True)
def _cli(settings: Settings, db: Database, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cli_settings(monkeypatch, settings)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "200")


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def refused(result: Result, *needles: str) -> None:
    assert result.exit_code == 2, (result.output, result.exception)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    for needle in needles:
        assert needle in result.output


@pytest.fixture
def fifo(tmp_path: Path) -> Iterator[Path]:
    """A named pipe; should a command open it after all, a writer comes along and closes
    it at once, so that the test fails instead of hanging."""
    path = tmp_path / "fifo"
    os.mkfifo(path)
    stop = threading.Event()

    def unblock() -> None:
        while not stop.wait(0.5):
            try:
                os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
            except OSError:
                continue  # no reader waiting

    watchdog = threading.Thread(target=unblock, daemon=True)
    watchdog.start()
    yield path
    stop.set()
    watchdog.join()


READERS = [
    ["bank", "import", "B", "{}", "--format", "local_file"],
    ["terms", "import", "T", "{}", "--format", "csv"],
    ["accountability", "import", "{}"],
    ["text", "check", "--file", "{}", "--offline"],
    ["classifiers", "try", "{}"],
    ["exchange", "add", "x", "--type", "ncmec", "--bank", "B", "--credentials-file", "{}"],
]


def _with(args: list[str], path: Path) -> list[str]:
    return [str(path) if a == "{}" else a for a in args]


@pytest.mark.parametrize("args", READERS, ids=lambda a: " ".join(a[:2]))
def test_a_fifo_is_refused_without_opening_it(fifo: Path, args: list[str]) -> None:
    refused(run(*_with(args, fifo)), "is a named pipe (FIFO); name a regular file")


@pytest.mark.parametrize("args", READERS, ids=lambda a: " ".join(a[:2]))
def test_a_device_is_refused_without_reading_it(args: list[str]) -> None:
    refused(run(*_with(args, Path("/dev/zero"))), "is a device; name a regular file")


@pytest.mark.skipif(not MEM.exists(), reason="needs Linux /proc")
@pytest.mark.parametrize("args", READERS, ids=lambda a: " ".join(a[:2]))
def test_a_file_that_fails_to_read_is_plain_words(args: list[str]) -> None:
    assert run("bank", "create", "B").exit_code == 0  # so that the file is read
    assert run("terms", "create", "T").exit_code == 0
    refused(run(*_with(args, MEM)), "cannot read", "(Input/output error)")


@pytest.mark.parametrize("args", READERS, ids=lambda a: " ".join(a[:2]))
def test_a_folder_or_a_missing_file_is_refused(tmp_path: Path, args: list[str]) -> None:
    refused(run(*_with(args, tmp_path)))
    refused(run(*_with(args, tmp_path / "nonexistent")))


def test_accountability_import_says_which_file_is_not_a_file(tmp_path: Path) -> None:
    refused(run("accountability", "import", str(tmp_path)), "is a folder")
    refused(run("accountability", "import", "nope.csv"), "nope.csv: there is no such file")


def test_a_file_past_the_limit_is_refused_before_it_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    big = tmp_path / "big.csv"
    big.write_bytes(b"x" * 4096)
    monkeypatch.setenv("SHIELDWALL_IMPORT_MAX_BYTES", "1024")
    refused(run("accountability", "import", str(big)), "is larger than 1,024 bytes")
    credentials = tmp_path / "credentials.json"
    credentials.write_bytes(b" " * 2_000_000 + b"{}")
    refused(
        run(
            "exchange", "add", "x", "--type", "ncmec", "--bank", "B",
            "--credentials-file", str(credentials),
        ),
        "is larger than 1,048,576 bytes",
    )  # fmt: skip


def test_read_input_file_reads_a_regular_file_and_bounds_a_proc_file(tmp_path: Path) -> None:
    small = tmp_path / "small.txt"
    small.write_bytes(b"hello\n")
    assert read_input_file(small, 6) == b"hello\n"
    with pytest.raises(InvalidInput, match="larger than 5 bytes"):
        read_input_file(small, 5)
    status = Path("/proc/self/status")  # a regular file whose size reads as 0
    if status.exists():
        assert read_input_file(status, 1 << 20).startswith(b"Name:")
        with pytest.raises(InvalidInput, match="larger than 10 bytes"):
            read_input_file(status, 10)


@pytest.mark.parametrize(
    "args",
    [
        ["cases", "decide", "3", "escalate", "--as", NOT_TEXT],
        ["cases", "list", "--status", "all", "--assignee", NOT_TEXT],
        ["apikey", "create", "--name", "x", "--scope", "scan", "--owner", NOT_TEXT],
        ["user", "set-role", NOT_TEXT, "admin"],
        ["user", "deactivate", NOT_TEXT],
        ["terms", "export", NOT_TEXT],
        ["evidence", "hold", "1", "--reason", "a" + NOT_TEXT],
        ["text", "hash", NOT_TEXT],
    ],
    ids=lambda a: " ".join(a[:2]),
)
def test_an_argument_that_is_not_utf8_is_refused_by_position_never_echoed(
    args: list[str],
) -> None:
    result = run(*args)
    refused(result, f"error: argument {args.index(next(a for a in args if NOT_TEXT in a)) + 1} ")
    assert "is not valid UTF-8 text" in result.output
    assert NOT_TEXT not in result.output


@pytest.mark.parametrize("term", ["", "   ", "\u200b"])
def test_text_hash_of_an_empty_term_is_refused_not_hashed(term: str) -> None:
    refused(run("text", "hash", term), "the term is empty")


@pytest.mark.parametrize("key", ["9223372036854775808", "9" * 5000, "²"])
def test_apikey_revoke_of_an_id_past_the_database_integers_is_unknown(key: str) -> None:
    refused(run("apikey", "revoke", key), "no API key with id or prefix")


def test_apikey_expiry_is_capped_at_a_hundred_years() -> None:
    result = run(
        "apikey", "create", "--name", "x", "--scope", "scan", "--owner", "nobody",
        "--expires-days", "99999999",
    )  # fmt: skip
    refused(result, "--expires-days")


def test_scan_refuses_a_folder_as_its_result_file(tmp_path: Path) -> None:
    (tmp_path / "root").mkdir()
    (tmp_path / "out").mkdir()
    refused(run("scan", "root", "-o", "out"), "is a folder")


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
@pytest.mark.parametrize(
    "content", [b"\xff\xfe\x00binary\x00\n", b"my notes\nthat matter", b'{"a": 1}\n']
)
def test_scan_leaves_a_file_that_is_not_a_result_file_as_it_is(
    tmp_path: Path, fmt: str, content: bytes
) -> None:
    (tmp_path / "root").mkdir()
    mine = tmp_path / "mine.bin"
    mine.write_bytes(content)
    for resume in ("--resume", "--no-resume"):
        result = run("scan", "root", "-o", str(mine), "--format", fmt, resume)
        refused(result, f"is not a {fmt} scan result file; it was left as it is")
    assert mine.read_bytes() == content


def test_a_result_file_torn_in_its_first_line_is_accepted_as_a_resume_target(
    tmp_path: Path,
) -> None:
    """The output check that runs before a resumed scan: a file torn in its first line (or
    header) is ours to resume, not a stranger's file to refuse; a file of the other format
    is refused."""
    torn = tmp_path / "scan.jsonl"
    torn.write_bytes(b'{"path": "/x/a.j')
    check_output(torn, "jsonl")
    torn.write_bytes(b"{")
    check_output(torn, "jsonl")
    header = tmp_path / "scan.csv"
    header.write_bytes(",".join(FIELDS[:3]).encode())
    check_output(header, "csv")
    header.write_bytes(",".join(FIELDS).encode() + b"\r\n")
    check_output(header, "csv")
    with pytest.raises(InvalidInput):
        check_output(header, "jsonl")


@pytest.mark.skipif(not FULL.exists(), reason="needs /dev/full")
@pytest.mark.parametrize(
    "args",
    [
        ["bank", "export", "FULL_BANK", "-o", str(FULL)],
        ["terms", "export", "FULL_LIST", "-o", str(FULL)],
        ["accountability", "export", "--out", str(FULL)],
    ],
    ids=lambda a: " ".join(a[:2]),
)
def test_an_export_to_a_full_disk_is_plain_words(args: list[str]) -> None:
    assert run("bank", "create", "FULL_BANK").exit_code == 0
    assert run("terms", "create", "FULL_LIST").exit_code == 0
    refused(run(*args), f"cannot write output {FULL} (No space left on device)")
