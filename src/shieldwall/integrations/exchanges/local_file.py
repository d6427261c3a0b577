"""A hash list in python-threatexchange's ``local_file`` format, read from the server's disk.

One ``<signal_type> <value>`` a line, or, when the exchange names a ``signal_type``, one bare
value a line (python-threatexchange's file collaborations read the whole line as the value
then, and so do we); blank lines and lines starting with ``#`` are ignored.
The file is the whole list: each complete read is a snapshot, and a record in the bank that
is not in the newest snapshot has been deleted at the source (the runner sweeps it once the
read is complete). An unchanged file (same size and modification time) is not read again.

Checkpoint: ``{"size", "mtime_ns"}`` after a complete read; while a read is under way also
``{"snapshot": <iso time it began>, "offset": <bytes read>, "line": <lines read>}``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from pathlib import Path
from stat import S_ISREG as stat_is_file
from typing import IO, Any

from shieldwall.core.signals import SignalType
from shieldwall.integrations.exchanges.base import (
    Page,
    RecordNames,
    Rejected,
    SourceRecord,
    SourceRefused,
    signal_name,
    utc_now,
)

PAGE_LINES = 5000
MAX_LINE_BYTES = 1_048_576


#: A list names each record after its signal, in shieldwall's own signal type names.
RECORD_NAMES = RecordNames({t.value: t.value for t in SignalType})


def record_id_for(signal_type: str, value: str) -> str:
    """A list's record id: the signal itself (hashed when long, e.g. vPDQ)."""
    value = value.strip().lower()
    return signal_name(signal_type, value) or (
        f"{signal_type}:sha256:{hashlib.sha256(value.encode()).hexdigest()}"
    )


def parse_line(
    line: str, line_no: int, signal_type: str | None = None
) -> SourceRecord | Rejected | None:
    """One line: a record, a refusal, or None (blank or a comment). With ``signal_type``
    the whole line is the value."""
    stripped = line.strip()
    if not stripped or stripped.startswith("#"):
        return None
    if signal_type:
        return SourceRecord(
            record_id=record_id_for(signal_type, stripped), signals=((signal_type, stripped),)
        )
    parts = stripped.split(None, 1)
    if len(parts) != 2:
        return Rejected(f"line {line_no}", "expected '<signal_type> <value>'")
    kind = parts[0].lower()
    return SourceRecord(record_id=record_id_for(kind, parts[1]), signals=((kind, parts[1]),))


def lines_to_pages(
    lines: Iterable[tuple[int, bytes]],
    *,
    snapshot: datetime,
    checkpoint_at: Callable[[int | None], dict[str, Any]],
    page_lines: int = PAGE_LINES,
    signal_type: str | None = None,
) -> Iterator[Page]:
    """Pages of records from numbered raw lines (see :func:`parse_line`);
    ``checkpoint_at(line_no)`` gives the checkpoint after a line. The last page carries
    ``sweep_before=snapshot``."""
    page = Page()
    count = 0
    for line_no, raw in lines:
        if len(raw) > MAX_LINE_BYTES:
            page.rejected.append(
                Rejected(f"line {line_no}", f"line is longer than {MAX_LINE_BYTES:,} bytes")
            )
        else:
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                page.rejected.append(Rejected(f"line {line_no}", "line is not UTF-8 text"))
            else:
                parsed = parse_line(text, line_no, signal_type)
                if isinstance(parsed, Rejected):
                    page.rejected.append(parsed)
                elif parsed is not None:
                    page.records.append(parsed)
        count += 1
        if count >= page_lines:
            page.checkpoint = checkpoint_at(line_no)
            yield page
            page, count = Page(), 0
    page.checkpoint = checkpoint_at(None)
    page.sweep_before = snapshot
    yield page


def _unreadable(exc: OSError) -> SourceRefused:
    return SourceRefused(
        f"the list file cannot be read ({exc.strerror or type(exc).__name__}); check "
        "the exchange's path"
    )


def _read_line(stream: IO[bytes], limit: int) -> bytes:
    # A path that passes as a regular file may still fail on read (/proc/self/mem: EIO;
    # a disk error): a refusal in plain words, not an internal error.
    try:
        return stream.readline(limit)
    except OSError as exc:
        raise _unreadable(exc) from None


def _numbered(stream: IO[bytes], start_line: int) -> Iterator[tuple[int, bytes]]:
    line_no = start_line
    while True:
        raw = _read_line(stream, MAX_LINE_BYTES + 1)
        if not raw:
            return
        line_no += 1
        if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
            while raw and not raw.endswith(b"\n"):
                raw = _read_line(stream, 65536)
            yield line_no, b"x" * (MAX_LINE_BYTES + 1)
            continue
        yield line_no, raw.rstrip(b"\r\n")


class LocalFileAdapter:
    def __init__(
        self, path: str, *, page_lines: int = PAGE_LINES, signal_type: str | None = None
    ) -> None:
        self.path = Path(path)
        self.page_lines = page_lines
        self.signal_type = signal_type

    def pages(self, checkpoint: Mapping[str, Any] | None) -> Iterator[Page]:
        cp = dict(checkpoint or {})
        try:
            stat = self.path.stat()
            if not stat_is_file(stat.st_mode):  # a FIFO or device would block or never end
                raise SourceRefused("the exchange's path is not a regular file")
            handle = self.path.open("rb")
        except OSError as exc:
            raise _unreadable(exc) from None
        with handle:
            same_file = cp.get("size") == stat.st_size and cp.get("mtime_ns") == stat.st_mtime_ns
            if same_file and "snapshot" not in cp:
                return  # read completely before and unchanged since
            offset, line_no = 0, 0
            snapshot = utc_now()
            if same_file and "snapshot" in cp:
                offset, line_no = int(cp.get("offset", 0)), int(cp.get("line", 0))
                snapshot = datetime.fromisoformat(str(cp["snapshot"]))
                try:
                    handle.seek(offset)
                except OSError as exc:
                    raise _unreadable(exc) from None
            done = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}

            def checkpoint_at(at_line: int | None) -> dict[str, Any]:
                if at_line is None:
                    return dict(done)
                return {
                    **done,
                    "snapshot": snapshot.isoformat(),
                    "offset": handle.tell(),
                    "line": at_line,
                }

            yield from lines_to_pages(
                _numbered(handle, line_no),
                snapshot=snapshot,
                checkpoint_at=checkpoint_at,
                page_lines=self.page_lines,
                signal_type=self.signal_type,
            )
