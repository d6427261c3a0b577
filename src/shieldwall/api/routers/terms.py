"""Term and URL lists: CRUD, entries, file import and export (principles 3, 4 and 6).

Scopes: reading needs ``banks:read`` and changing ``banks:write`` — a term list is a bank of
words and URLs, and the platforms' integration keys that maintain hash banks maintain these.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Path, Query, UploadFile, status
from fastapi.responses import StreamingResponse

from shieldwall.api.deps import DbSession, SettingsDep, get_database, require
from shieldwall.core.access import Principal, Scope
from shieldwall.db.engine import Database
from shieldwall.textsignals import io, repository, service
from shieldwall.textsignals.schemas import (
    MAX_ENTRIES_PER_CALL,
    EntriesAdded,
    EntryPage,
    FileFormat,
    ImportReport,
    TermEntryIn,
    TermEntryOut,
    TermListCreate,
    TermListOut,
    TermListUpdate,
)

router = APIRouter(prefix="/v1/term-lists", tags=["term lists"])
Reader = Annotated[Principal, require(Scope.BANKS_READ)]
Writer = Annotated[Principal, require(Scope.BANKS_WRITE)]
ListName = Annotated[str, Path(max_length=100, description="The list's name.")]
EntryId = Annotated[int, Path(ge=1, le=2**63 - 1)]


def _one(db: DbSession, name: str) -> TermListOut:
    return service.describe(db, [service.get_list(db, name)])[0]


@router.get("", summary="List term lists with their entry counts")
def list_lists(db: DbSession, _: Reader) -> list[TermListOut]:
    return service.describe(db, repository.list_lists(db))


@router.post("", status_code=status.HTTP_201_CREATED, summary="Create a term list")
def create_list(body: TermListCreate, db: DbSession, actor: Writer) -> TermListOut:
    service.create_list(db, body, actor=actor)
    return _one(db, body.name)


@router.get("/{name}", summary="One term list")
def get_list(name: ListName, db: DbSession, _: Reader) -> TermListOut:
    return _one(db, name)


@router.patch("/{name}", summary="Change a list's description or switch it on or off")
def update_list(name: ListName, body: TermListUpdate, db: DbSession, actor: Writer) -> TermListOut:
    service.update_list(db, name, body, actor=actor)
    return _one(db, name)


@router.delete("/{name}", summary="Delete a list and its entries")
def delete_list(name: ListName, db: DbSession, actor: Writer) -> dict[str, int]:
    return {"entries_removed": service.delete_list(db, name, actor=actor)}


@router.get("/{name}/entries", summary="A list's entries in id order; page with after_id")
def list_entries(
    name: ListName,
    db: DbSession,
    _: Reader,
    after_id: Annotated[int, Query(ge=0, le=2**63 - 1)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> EntryPage:
    term_list = service.get_list(db, name)
    rows = repository.list_entries(db, term_list.id, after_id=after_id, limit=limit)
    items = [TermEntryOut.model_validate(e) for e in rows]
    return EntryPage(items=items, next_after_id=items[-1].id if len(items) == limit else None)


@router.post(
    "/{name}/entries",
    summary=f"Add one entry, or a list of up to {MAX_ENTRIES_PER_CALL}; all or none",
)
def add_entries(
    name: ListName, body: TermEntryIn | list[TermEntryIn], db: DbSession, actor: Writer
) -> EntriesAdded:
    """Kinds: term, phrase, regex, hashed (SHA-256 of the normalised term, with word_count),
    url, domain. A pattern with backreferences or nested quantifiers is refused (422)."""
    items = body if isinstance(body, list) else [body]
    service.check_entries_count(len(items), MAX_ENTRIES_PER_CALL)
    return service.add_entries(db, name, items, actor=actor)


@router.delete("/{name}/entries/{entry_id}", status_code=204, summary="Remove an entry")
def remove_entry(name: ListName, entry_id: EntryId, db: DbSession, actor: Writer) -> None:
    service.remove_entry(db, name, entry_id, actor=actor)


@router.post("/{name}/import", summary="Import a CSV or JSON Lines file (multipart: file, format)")
def import_file(
    name: ListName,
    db: DbSession,
    actor: Writer,
    settings: SettingsDep,
    file: Annotated[UploadFile, File(description="UTF-8 CSV or JSON Lines.")],
    format: Annotated[str, Form(max_length=20, description="auto, csv or jsonl")] = "auto",
) -> ImportReport:
    """Malformed lines are rejected with their line numbers and the rest imported; an
    unreadable file or more rejections than import_max_rejected imports nothing (422)."""
    fmt = io.resolve_format(format, file.filename)
    return io.import_entries(
        db,
        name,
        file.file,
        fmt,
        actor=actor,
        max_bytes=settings.import_max_bytes,
        max_rejected=settings.import_max_rejected,
    )


@router.get(
    "/{name}/export",
    summary="Download a list's entries as csv or jsonl (the import format)",
    response_class=StreamingResponse,
)
def export_file(
    name: ListName,
    db: DbSession,
    _: Reader,
    database: Annotated[Database, Depends(get_database)],
    format: Annotated[FileFormat, Query()] = FileFormat.CSV,
) -> StreamingResponse:
    service.get_list(db, name)

    def body() -> Iterator[bytes]:
        with database.session() as session:
            for chunk in io.export_entries(session, name, format):
                yield chunk.encode("utf-8")

    media = "text/csv" if format is FileFormat.CSV else "application/jsonl"
    return StreamingResponse(
        body(),
        media_type=f"{media}; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.{format.value}"'},
    )
