"""Bank files: streaming import (bounded memory, all or nothing) and export.

Formats (:class:`~shieldwall.banks.schemas.FileFormat`):

- ``csv``: a header naming ``signal_type`` and ``value`` (optional ``labels``,
  ``source_record_id``, ``quality``), labels separated by spaces;
- ``jsonl``: one object per line with those keys;
- ``local_file``: python-threatexchange's ``<signal_type> <value>`` per line, blank lines and
  lines starting with ``#`` ignored.

An import reads the file line by line, checks every line, and stores valid ones in batches
(one query for duplicates and one bulk insert per batch). A malformed line is *rejected*:
counted, the first ones reported with their line numbers, and never stored. A file that
cannot be read as one of the formats (not UTF-8, binary, a CSV without its header, a JSON
Lines line that is not an object) or too many rejected lines stop the import with
:class:`~shieldwall.core.errors.InvalidInput`, and nothing of it is kept: the import runs
in a savepoint inside the caller's transaction.
"""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import PurePath
from typing import IO, Any

from sqlalchemy.orm import Session

from shieldwall.audit import service as audit
from shieldwall.banks import repository, service
from shieldwall.banks.changes import change_seq
from shieldwall.banks.models import Bank
from shieldwall.banks.schemas import (
    LABEL_PATTERN,
    MAX_LABELS,
    AddOutcome,
    EntrySource,
    FileFormat,
    ImportReport,
    Rejection,
)
from shieldwall.core import jsondoc
from shieldwall.core.access import Principal
from shieldwall.core.errors import InvalidInput
from shieldwall.db.base import utcnow

#: (bytes read so far) -> None; called after every batch and at the end.
ProgressCallback = Callable[[int], None]

CSV_COLUMNS = ("signal_type", "value", "labels", "source_record_id", "quality")
REQUIRED_KEYS = ("signal_type", "value")
_EXTENSIONS = {
    ".csv": FileFormat.CSV,
    ".jsonl": FileFormat.JSONL,
    ".ndjson": FileFormat.JSONL,
    ".txt": FileFormat.LOCAL_FILE,
}
_LABEL = re.compile(LABEL_PATTERN)
_SKIP_CHUNK = 65_536


@dataclass(frozen=True)
class ImportLimits:
    max_line_bytes: int = 1_048_576
    #: Reading more of the file than this stops the import (nothing is kept); ``None``: no
    #: limit beyond the file's end (a stream that never ends then never stops).
    max_bytes: int | None = None
    #: More rejected lines than this stop the import; nothing is kept.
    max_rejected: int = 10_000
    #: How many rejections the report lists (all are counted).
    max_reported: int = 100
    batch_rows: int = 1000
    #: A batch is also stored once its values add up to this many characters.
    batch_chars: int = 8_388_608


def format_for_filename(filename: str) -> FileFormat:
    """The format a file name's extension implies: .csv, .jsonl/.ndjson, .txt (local_file)."""
    suffix = PurePath(filename).suffix.lower()
    try:
        return _EXTENSIONS[suffix]
    except KeyError:
        raise InvalidInput(
            f"cannot tell the format of {PurePath(filename).name!r} from its extension; "
            "name the format: csv, jsonl or local_file (.csv, .jsonl/.ndjson and .txt are "
            "recognised)",
            field="format",
        ) from None


def resolve_format(value: str, filename: str | None) -> FileFormat:
    """``auto`` (or empty: from the file name's extension) or a format's name."""
    value = value.strip().lower()
    if value in ("", "auto"):
        if not filename:
            raise InvalidInput("the file has no name to tell its format by; name the format")
        return format_for_filename(filename)
    try:
        return FileFormat(value)
    except ValueError:
        raise InvalidInput(
            f"unknown format {value[:20]!r}; use auto, csv, jsonl or local_file", field="format"
        ) from None


def export_filename(bank_name: str, fmt: FileFormat) -> str:
    ext = {FileFormat.CSV: "csv", FileFormat.JSONL: "jsonl", FileFormat.LOCAL_FILE: "txt"}[fmt]
    return f"{bank_name}.{ext}"


# ---- reading -------------------------------------------------------------------------------


class _Rejected(Exception):
    """One line is wrong; the import goes on without it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class _Raw:
    signal_type: str
    value: str
    labels: list[str]
    source_record_id: str | None = None
    quality: int | None = None


class _LineReader:
    """Decoded lines of a binary stream, each at most ``max_bytes`` long, with a count of
    the bytes read. A longer line is yielded as ``None`` (skipped to its end)."""

    def __init__(self, stream: IO[bytes], max_bytes: int, max_total: int | None = None) -> None:
        self.stream = stream
        self.max_bytes = max_bytes
        self.max_total = max_total
        self.bytes_read = 0
        self.line_no = 0

    def _count(self, raw: bytes) -> None:
        self.bytes_read += len(raw)
        if self.max_total is not None and self.bytes_read > self.max_total:
            raise InvalidInput(
                f"the file is larger than {self.max_total:,} bytes; nothing was imported"
            )

    def __iter__(self) -> Iterator[str | None]:
        while True:
            raw = self.stream.readline(self.max_bytes + 1)
            if not raw:
                return
            if not isinstance(raw, bytes):
                raise TypeError("bank imports read binary streams (open files with 'rb')")
            self.line_no += 1
            self._count(raw)
            if len(raw) > self.max_bytes and not raw.endswith(b"\n"):
                while raw and not raw.endswith(b"\n"):  # skip the rest of the long line
                    raw = self.stream.readline(_SKIP_CHUNK)
                    self._count(raw)
                yield None
                continue
            yield self._decode(raw)

    def _decode(self, raw: bytes) -> str:
        if self.line_no == 1 and raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
            raise InvalidInput(
                "the file is UTF-16 text; save it as UTF-8 and import it again; nothing was "
                "imported"
            )
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidInput(
                f"line {self.line_no} is not UTF-8 text (byte {exc.start + 1} of the line): "
                "bank files must be UTF-8 CSV, JSON Lines or local_file text, not a binary "
                "file; nothing was imported"
            ) from None
        if "\x00" in line:
            raise InvalidInput(
                f"line {self.line_no} contains a NUL byte: this looks like a binary file, "
                "not CSV, JSON Lines or local_file text; nothing was imported"
            )
        if self.line_no == 1:
            line = line.removeprefix("\ufeff")
        return line.rstrip("\r\n")


def _quality(value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise _Rejected("quality must be a whole number 0-100")
    if isinstance(value, int):
        if not 0 <= value <= 100:  # quoted only when short: JSON numbers may have 4,000 digits
            got = f", got {value}" if abs(value) < 10**9 else ""
            raise _Rejected(f"quality must be a whole number 0-100{got}")
        return value
    text = value.strip() if isinstance(value, str) else ""
    # ASCII digits only: str.isdigit() is also true of "²" and "①", which int() refuses
    if text.isascii() and text.isdigit() and len(text) <= 3:
        return _quality(int(text))
    raise _Rejected(f"quality must be a whole number 0-100, got {str(value)[:20]!r}")


def _labels(value: Any) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        labels = value.split()
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        labels = value
    else:
        raise _Rejected("labels must be a list of strings or one string of space-separated labels")
    if len(labels) > MAX_LABELS:
        raise _Rejected(f"at most {MAX_LABELS} labels, got {len(labels)}")
    for label in labels:
        if not _LABEL.fullmatch(label):
            raise _Rejected(f"label {label[:40]!r} is malformed: 1-40 letters, digits or _ . : -")
    return labels


def _record_id(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise _Rejected("source_record_id must be a string")
    text = str(value)
    # JSON's \ud800 escape gives a lone surrogate, which no database encoding can store (the
    # insert would fail and take the whole import with it); control characters are refused
    # with the rest of the entry, but here too, so the line's reason names both
    if any(unicodedata.category(c) in ("Cc", "Cs") for c in text):
        raise _Rejected(
            "source_record_id must not contain control characters (line breaks, tabs...) "
            "or lone surrogates (\\ud800-\\udfff escapes)"
        )
    return text  # checked with the rest of the entry


def _csv_records(lines: _LineReader) -> Iterator[tuple[int, _Raw | _Rejected]]:
    columns: list[str] | None = None
    for line in lines:
        n = lines.line_no
        if line is None:
            if columns is None:
                raise InvalidInput(
                    f"line {n} is longer than {lines.max_bytes:,} bytes; the first line of a "
                    "CSV file must be its header"
                )
            yield n, _Rejected(f"line is longer than {lines.max_bytes:,} bytes")
            continue
        if not line.strip():
            continue
        try:
            fields = next(csv.reader((line,), strict=True))
        except (csv.Error, StopIteration) as exc:
            if columns is None:
                raise InvalidInput(f"line {n}: the CSV header cannot be read ({exc})") from None
            yield n, _Rejected(f"not valid CSV ({exc})")
            continue
        if columns is None:
            columns = _csv_header(fields, n)
            continue
        if len(fields) != len(columns):
            yield (
                n,
                _Rejected(
                    f"expected {len(columns)} fields ({','.join(columns)}), got {len(fields)}"
                ),
            )
            continue
        row = dict(zip(columns, fields, strict=True))
        try:
            yield (
                n,
                _Raw(
                    signal_type=row["signal_type"].strip(),
                    value=row["value"].strip(),
                    labels=_labels(row.get("labels")),
                    source_record_id=_record_id(row.get("source_record_id")),
                    quality=_quality(row.get("quality")),
                ),
            )
        except _Rejected as exc:
            yield n, exc
    if columns is None:
        raise InvalidInput(
            f"the CSV file is empty; it needs the header line {','.join(CSV_COLUMNS)}"
        )


def _csv_header(fields: list[str], line_no: int) -> list[str]:
    columns = [f.strip().lower() for f in fields]
    missing = [c for c in REQUIRED_KEYS if c not in columns]
    expected = ",".join(CSV_COLUMNS)
    if missing:
        raise InvalidInput(
            f"line {line_no} is not a CSV header: it lacks the column(s) {', '.join(missing)}. "
            f"A bank CSV starts with the header {expected} (labels, source_record_id and "
            "quality are optional); nothing was imported"
        )
    unknown = [c for c in columns if c not in CSV_COLUMNS]
    if unknown:
        raise InvalidInput(
            f"the CSV header names unknown column(s) {', '.join(repr(c[:40]) for c in unknown)}; "
            f"the columns are {expected}; nothing was imported"
        )
    repeated = sorted({c for c in columns if columns.count(c) > 1})
    if repeated:
        raise InvalidInput(f"the CSV header repeats column(s) {', '.join(repeated)}")
    return columns


def _jsonl_records(lines: _LineReader) -> Iterator[tuple[int, _Raw | _Rejected]]:
    seen_object = False
    for line in lines:
        n = lines.line_no
        if line is None:
            yield n, _Rejected(f"line is longer than {lines.max_bytes:,} bytes")
            continue
        if not line.strip():
            continue
        try:
            obj = jsondoc.loads(line)
        except json.JSONDecodeError as exc:
            if not seen_object:
                raise InvalidInput(
                    f"line {n} is not JSON ({exc.msg}); a JSON Lines file holds one JSON "
                    "object per line; nothing was imported"
                ) from None
            yield n, _Rejected(f"not valid JSON ({exc.msg} at column {exc.colno})")
            continue
        if not isinstance(obj, dict):
            raise InvalidInput(
                f"line {n} holds a JSON {type(obj).__name__}, not an object; a JSON Lines "
                f"bank file holds one object per line with the keys {', '.join(CSV_COLUMNS)}; "
                "nothing was imported"
            )
        seen_object = True
        try:
            yield n, _json_raw(obj)
        except _Rejected as exc:
            yield n, exc


def _json_raw(obj: dict[str, Any]) -> _Raw:
    unknown = sorted(k for k in obj if k not in CSV_COLUMNS)
    if unknown:
        shown = ", ".join(repr(k[:40]) for k in unknown[:5])
        raise _Rejected(f"unknown key(s) {shown}; the keys are {', '.join(CSV_COLUMNS)}")
    for key in REQUIRED_KEYS:
        if not isinstance(obj.get(key), str):
            raise _Rejected(f"{key} must be a string")
    return _Raw(
        signal_type=obj["signal_type"].strip(),
        value=obj["value"].strip(),
        labels=_labels(obj.get("labels")),
        source_record_id=_record_id(obj.get("source_record_id")),
        quality=_quality(obj.get("quality")),
    )


def _local_file_records(lines: _LineReader) -> Iterator[tuple[int, _Raw | _Rejected]]:
    for line in lines:
        n = lines.line_no
        if line is None:
            yield n, _Rejected(f"line is longer than {lines.max_bytes:,} bytes")
            continue
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        parts = stripped.split(None, 1)
        if len(parts) != 2:
            yield n, _Rejected("expected '<signal_type> <value>'")
            continue
        yield n, _Raw(signal_type=parts[0], value=parts[1].strip(), labels=[])


_PARSERS = {
    FileFormat.CSV: _csv_records,
    FileFormat.JSONL: _jsonl_records,
    FileFormat.LOCAL_FILE: _local_file_records,
}


# ---- import --------------------------------------------------------------------------------


class _Importer:
    def __init__(
        self,
        session: Session,
        bank: Bank,
        report: ImportReport,
        *,
        added_by: str,
        seq: int,
        limits: ImportLimits,
    ) -> None:
        self.session = session
        self.bank = bank
        self.report = report
        self.added_by = added_by
        self.seq = seq
        self.limits = limits
        self.batch: list[service.NewEntry] = []
        self.batch_chars = 0
        self.on_flush: Callable[[], None] | None = None

    def reject(self, line_no: int, reason: str) -> None:
        report = self.report
        report.rejected += 1
        if len(report.rejections) < self.limits.max_reported:
            report.rejections.append(Rejection(line=line_no, reason=reason))
        if report.rejected > self.limits.max_rejected:
            first = report.rejections[0]
            raise InvalidInput(
                f"more than {self.limits.max_rejected:,} lines were rejected, so the import "
                f"was stopped and nothing of it was kept; the first: {first}",
                rejected=report.rejected,
            )

    def add(self, raw: _Raw) -> str | None:
        """Queue one record; returns why it is rejected, or None."""
        try:
            entry = service.validate_entry(
                self.bank,
                raw.signal_type,
                raw.value,
                quality=raw.quality,
                labels=raw.labels,
                source_record_id=raw.source_record_id,
                source=EntrySource.FILE_IMPORT,
            )
        except InvalidInput as exc:
            return exc.message
        self.batch.append(entry)
        self.batch_chars += len(entry.value)
        if len(self.batch) >= self.limits.batch_rows or self.batch_chars >= self.limits.batch_chars:
            self.flush()
        return None

    def flush(self) -> None:
        if not self.batch:
            return
        outcomes = service.store_entries(
            self.session,
            self.bank,
            self.batch,
            added_by=self.added_by,
            seq=self.seq,
            now=utcnow(),
            want_ids=False,
        )
        for outcome, _ in outcomes:
            if outcome is AddOutcome.ADDED:
                self.report.added += 1
            elif outcome is AddOutcome.REVIVED:
                self.report.revived += 1
            else:
                self.report.duplicates += 1
        self.batch = []
        self.batch_chars = 0
        if self.on_flush is not None:
            self.on_flush()


def import_entries(
    session: Session,
    name: str,
    stream: IO[bytes],
    fmt: FileFormat,
    *,
    actor: Principal | str,
    limits: ImportLimits | None = None,
    progress: ProgressCallback | None = None,
) -> ImportReport:
    """Import a bank file into bank ``name``; returns what happened, line numbers included.

    All or nothing: a fatal problem (unreadable file, too many rejected lines, a database
    error) raises and leaves the bank as it was. Writes one ``bank.imported`` event with the
    counts (never the values). ``stream`` is read once, line by line, in binary.
    """
    limits = limits or ImportLimits()
    seq = change_seq(session)
    bank = service.get_bank(session, name)
    report = ImportReport(bank=bank.name, format=fmt)
    lines = _LineReader(stream, limits.max_line_bytes, limits.max_bytes)
    importer = _Importer(
        session, bank, report, added_by=service.actor_ref(actor), seq=seq, limits=limits
    )
    if progress is not None:
        importer.on_flush = lambda: progress(lines.bytes_read)
    with session.begin_nested():
        for line_no, item in _PARSERS[fmt](lines):
            reason = item.reason if isinstance(item, _Rejected) else importer.add(item)
            if reason is not None:
                importer.reject(line_no, reason)
        importer.flush()
    report.lines = lines.line_no
    report.bytes_read = lines.bytes_read
    if progress is not None:
        progress(lines.bytes_read)
    audit.record(
        session,
        "bank.imported",
        actor=actor,
        subject=f"bank:{bank.id}",
        principles=service.PRINCIPLES,
        payload={
            "format": fmt.value,
            "lines": report.lines,
            "added": report.added,
            "duplicates": report.duplicates,
            "revived": report.revived,
            "rejected": report.rejected,
        },
    )
    return report


# ---- export --------------------------------------------------------------------------------


def export_entries(
    session: Session, bank: Bank, fmt: FileFormat, *, batch: int = 1000
) -> Iterator[bytes]:
    """The bank's entries that are not removed (disabled ones included), as UTF-8 chunks of
    about ``batch`` lines. ``import_entries`` of the result gives back the same entries."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if fmt is FileFormat.CSV:
        writer.writerow(CSV_COLUMNS)
    pending = 0
    for _id, signal_type, value, labels, record_id, quality in repository.iter_live_entry_rows(
        session, bank.id, batch=batch
    ):
        if fmt is FileFormat.CSV:
            writer.writerow(
                (
                    signal_type,
                    value,
                    " ".join(labels or ()),
                    record_id or "",
                    "" if quality is None else quality,
                )
            )
        elif fmt is FileFormat.JSONL:
            obj = {
                "signal_type": signal_type,
                "value": value,
                "labels": list(labels or ()),
                "source_record_id": record_id,
                "quality": quality,
            }
            buffer.write(json.dumps(obj, ensure_ascii=False, separators=(",", ":")))
            buffer.write("\n")
        else:
            buffer.write(f"{signal_type} {value}\n")
        pending += 1
        if pending >= batch:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
            pending = 0
    tail = buffer.getvalue()
    if tail:
        yield tail.encode("utf-8")
