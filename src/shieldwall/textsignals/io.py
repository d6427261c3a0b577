"""Term-list files: import (line-numbered rejections, all or nothing on failure) and export.

Formats (:class:`~shieldwall.textsignals.schemas.FileFormat`):

- ``csv`` with a header naming at least ``kind``, ``value`` and ``category`` (also
  ``severity``, ``language``, ``word_count``, ``source_record_id``);
- ``jsonl``: one object per line with those keys.

A malformed line (unknown kind or category, a refused regular expression, a URL that does
not parse, a hashed term that is not 64 hex digits...) is *rejected*: counted, reported
with its line number and reason (the first 100), never stored; the rest is imported. A file
that is not UTF-8, a CSV without its header, or more rejected lines than the limit stop the
import with :class:`~shieldwall.core.errors.InvalidInput` and nothing of it is kept (the
import runs in a savepoint).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import PurePath
from typing import IO, Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from shieldwall.audit import service as audit
from shieldwall.core import jsondoc
from shieldwall.core.access import Principal
from shieldwall.core.errors import InvalidInput
from shieldwall.textsignals import repository, service
from shieldwall.textsignals.models import TermList
from shieldwall.textsignals.schemas import (
    FileFormat,
    ImportReport,
    Rejection,
    TermEntryIn,
    entry_fields,
)

COLUMNS = ("kind", "value", "category", "severity", "language", "word_count", "source_record_id")
REQUIRED = ("kind", "value", "category")
MAX_REPORTED = 100
BATCH = 1000


def resolve_format(value: str, filename: str | None) -> FileFormat:
    value = value.strip().lower()
    if value in ("", "auto"):
        suffix = PurePath(filename or "").suffix.lower()
        if suffix == ".csv":
            return FileFormat.CSV
        if suffix in (".jsonl", ".ndjson"):
            return FileFormat.JSONL
        raise InvalidInput("cannot tell the format from the file name; name it: csv or jsonl")
    try:
        return FileFormat(value)
    except ValueError:
        raise InvalidInput(f"unknown format {value[:20]!r}; use csv or jsonl") from None


def _why(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:3]:
        where = ".".join(str(x) for x in err.get("loc", ()) if x != "__root__")
        msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        parts.append(f"{where}: {msg}" if where else msg)
    return "; ".join(parts)


def _decode(data: bytes) -> str:
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise InvalidInput("the file is UTF-16; save it as UTF-8; nothing was imported")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InvalidInput(
            f"line {line} is not UTF-8 text; term-list files are UTF-8 CSV or JSON Lines; "
            "nothing was imported",
            line=line,
        ) from None
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        raise InvalidInput(f"line {line} holds a NUL byte: not a text file; nothing was imported")
    return text.removeprefix("\ufeff")


def _rows(text: str, fmt: FileFormat) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """(line number, fields) or (line number, reason for rejection)."""
    if fmt is FileFormat.JSONL:
        for n, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                obj = jsondoc.loads(line)
            except json.JSONDecodeError as exc:
                yield n, f"not valid JSON ({exc.msg} at column {exc.colno})"
                continue
            if not isinstance(obj, dict):
                yield n, f"a JSON {type(obj).__name__}, not an object"
                continue
            # quoted with repr: a key may hold a lone surrogate ("\ud800"), which no answer or
            # database can carry as it is
            unknown = sorted(repr(str(k)[:40]) for k in obj if k not in COLUMNS)
            if unknown:
                yield n, f"unknown key(s) {', '.join(unknown[:5])}; keys: {', '.join(COLUMNS)}"
                continue
            yield n, obj
        return
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    columns: list[str] | None = None
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            if columns is None:
                raise InvalidInput(f"the CSV header cannot be read ({exc})") from None
            yield reader.line_num, f"not valid CSV ({exc})"
            continue
        n = reader.line_num
        if not fields or not any(f.strip() for f in fields):
            continue
        if columns is None:
            columns = [f.strip().lower() for f in fields]
            missing = [c for c in REQUIRED if c not in columns]
            unknown = [c[:40] for c in columns if c not in COLUMNS]
            if missing or unknown or len(set(columns)) != len(columns):
                raise InvalidInput(
                    f"line {n} is not a term-list CSV header (missing: {', '.join(missing) or '-'}"
                    f"; unknown: {', '.join(unknown) or '-'}); the columns are "
                    f"{','.join(COLUMNS)} ({', '.join(REQUIRED)} required); nothing was imported"
                )
            continue
        if len(fields) != len(columns):
            yield n, f"expected {len(columns)} fields, got {len(fields)}"
            continue
        yield n, dict(zip(columns, fields, strict=True))
    if columns is None:
        raise InvalidInput(f"the CSV file is empty; it needs the header {','.join(COLUMNS)}")


def import_entries(
    session: Session,
    name: str,
    stream: IO[bytes],
    fmt: FileFormat,
    *,
    actor: Principal | str,
    max_bytes: int,
    max_rejected: int,
) -> ImportReport:
    data = stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise InvalidInput(f"the file is larger than {max_bytes:,} bytes; nothing was imported")
    text = _decode(data)
    report = ImportReport(term_list=name, format=fmt)
    with session.begin_nested():
        term_list = service.get_list(session, name, lock=True)
        batch: list[TermEntryIn] = []
        last_line = 0
        for n, row in _rows(text, fmt):
            last_line = n
            if isinstance(row, str):
                _reject(report, n, row, max_rejected)
                continue
            try:
                batch.append(TermEntryIn.model_validate(entry_fields(row)))
            except ValidationError as exc:
                _reject(report, n, _why(exc), max_rejected)
                continue
            if len(batch) >= BATCH:
                _flush(session, term_list, batch, report, actor)
        _flush(session, term_list, batch, report, actor)
        report.lines = max(last_line, text.count("\n") + (0 if text.endswith("\n") else 1))
    audit.record(
        session,
        "terms.imported",
        actor=actor,
        subject=f"term_list:{term_list.id}",
        principles=service.PRINCIPLES,
        payload={
            "added": report.added,
            "duplicates": report.duplicates,
            "rejected": report.rejected,
        },
    )
    return report


def _reject(report: ImportReport, line: int, reason: str, max_rejected: int) -> None:
    report.rejected += 1
    if len(report.rejections) < MAX_REPORTED:
        report.rejections.append(Rejection(line=line, reason=reason))
    if report.rejected > max_rejected:
        raise InvalidInput(
            f"more than {max_rejected} lines were rejected (line {line}: {reason}); "
            "nothing was imported",
            rejections=[r.model_dump() for r in report.rejections[:10]],
        )


def _flush(
    session: Session,
    term_list: TermList,
    batch: list[TermEntryIn],
    report: ImportReport,
    actor: Principal | str,
) -> None:
    if not batch:
        return
    _, duplicates = service.store_entries(session, term_list, batch, actor=actor, source="file")
    report.added += len(batch) - duplicates
    report.duplicates += duplicates
    batch.clear()


def export_entries(session: Session, name: str, fmt: FileFormat) -> Iterator[str]:
    """The list's entries in the import format, in id order, as text chunks."""
    term_list = service.get_list(session, name)
    after = 0
    if fmt is FileFormat.CSV:
        yield ",".join(COLUMNS) + "\r\n"
    while True:
        rows = repository.list_entries(session, term_list.id, after_id=after, limit=1000)
        if not rows:
            return
        buf = io.StringIO()
        writer = csv.writer(buf)
        for e in rows:
            fields = [
                e.kind,
                e.value,
                e.category,
                e.severity,
                e.language,
                str(e.word_count),
                e.source_record_id or "",
            ]
            if fmt is FileFormat.CSV:
                writer.writerow(fields)
            else:
                obj: dict[str, Any] = dict(zip(COLUMNS, fields, strict=True))
                obj["word_count"] = e.word_count
                obj = {k: v for k, v in obj.items() if v not in ("", None)}
                buf.write(json.dumps(obj, ensure_ascii=False) + "\n")
        yield buf.getvalue()
        after = rows[-1].id
