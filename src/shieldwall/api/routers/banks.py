"""Hash banks: CRUD, entries, file import and export (principle 1)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Path, Query, UploadFile, status
from fastapi.responses import StreamingResponse

from shieldwall.api.deps import DbSession, SettingsDep, get_database, require
from shieldwall.banks import io, repository, service
from shieldwall.banks.schemas import (
    MAX_ENTRIES_PER_CALL,
    BankCreate,
    BankDeleted,
    BankOut,
    BankUpdate,
    EntriesAdded,
    EntriesBody,
    EntryOut,
    EntryPage,
    EntryUpdate,
    FileFormat,
    ImportReport,
)
from shieldwall.core.access import Principal, Scope
from shieldwall.db.engine import Database

router = APIRouter(prefix="/v1/banks", tags=["banks"])
Reader = Annotated[Principal, require(Scope.BANKS_READ)]
Writer = Annotated[Principal, require(Scope.BANKS_WRITE)]
BankName = Annotated[str, Path(max_length=120, description="The bank's name, e.g. NCMEC_CSAM.")]
EntryId = Annotated[int, Path(ge=1, le=2**63 - 1)]

_MEDIA_TYPES = {
    FileFormat.CSV: "text/csv; charset=utf-8",
    FileFormat.JSONL: "application/jsonl; charset=utf-8",
    FileFormat.LOCAL_FILE: "text/plain; charset=utf-8",
}


def _one(db: DbSession, name: str) -> BankOut:
    return service.describe(db, [service.get_bank(db, name)])[0]


@router.get("", summary="List banks with their entry counts by signal type")
def list_banks(db: DbSession, _: Reader) -> list[BankOut]:
    return service.describe(db, repository.list_banks(db))


@router.post("", status_code=status.HTTP_201_CREATED, summary="Create a bank")
def create_bank(body: BankCreate, db: DbSession, actor: Writer) -> BankOut:
    bank = service.create_bank(db, body, actor=actor)
    return service.describe(db, [bank])[0]


@router.get("/{name}", summary="One bank, with counts by signal type (active, disabled, removed)")
def get_bank(name: BankName, db: DbSession, _: Reader) -> BankOut:
    return _one(db, name)


@router.patch("/{name}", summary="Change a bank's settings (name and kind are fixed)")
def update_bank(name: BankName, body: BankUpdate, db: DbSession, actor: Writer) -> BankOut:
    service.update_bank(db, name, body, actor=actor)
    return _one(db, name)


@router.delete("/{name}", summary="Delete a bank; all its entries leave every index")
def delete_bank(name: BankName, db: DbSession, actor: Writer) -> BankDeleted:
    _bank, removed = service.delete_bank(db, name, actor=actor)
    return BankDeleted(name=name, entries_removed=removed)


@router.get("/{name}/entries", summary="A bank's entries in id order; page with after_id")
def list_entries(
    name: BankName,
    db: DbSession,
    _: Reader,
    after_id: Annotated[int, Query(ge=0, le=2**63 - 1)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    signal_type: Annotated[str | None, Query(max_length=20)] = None,
    include_removed: bool = False,
) -> EntryPage:
    bank = service.get_bank(db, name)
    kind = service.signal_type_of(signal_type).value if signal_type else None
    rows = repository.list_entries(
        db,
        bank.id,
        after_id=after_id,
        limit=limit,
        signal_type=kind,
        include_removed=include_removed,
    )
    items = [EntryOut.model_validate(e) for e in rows]
    return EntryPage(items=items, next_after_id=items[-1].id if len(items) == limit else None)


@router.post(
    "/{name}/entries",
    summary=f"Add one entry, or a list of up to {MAX_ENTRIES_PER_CALL}; all or none",
)
def add_entries(name: BankName, body: EntriesBody, db: DbSession, actor: Writer) -> EntriesAdded:
    """Each item is answered as added, duplicate (already there: nothing changed) or revived
    (it had been removed), with its id. One invalid item fails the whole call with 422,
    naming its index."""
    items = body if isinstance(body, list) else [body]
    return service.add_entries(db, name, items, actor=actor, name_index=isinstance(body, list))


@router.get("/{name}/entries/{entry_id}", summary="One entry, removed ones included")
def get_entry(name: BankName, entry_id: EntryId, db: DbSession, _: Reader) -> EntryOut:
    bank = service.get_bank(db, name)
    return EntryOut.model_validate(service.get_entry(db, bank, entry_id))


@router.patch(
    "/{name}/entries/{entry_id}", summary="Change labels, disabled_until or source_record_id"
)
def update_entry(
    name: BankName, entry_id: EntryId, body: EntryUpdate, db: DbSession, actor: Writer
) -> EntryOut:
    return EntryOut.model_validate(service.update_entry(db, name, entry_id, body, actor=actor))


@router.delete("/{name}/entries/{entry_id}", summary="Remove an entry (soft; kept for history)")
def remove_entry(name: BankName, entry_id: EntryId, db: DbSession, actor: Writer) -> EntryOut:
    return EntryOut.model_validate(service.remove_entry(db, name, entry_id, actor=actor))


@router.post("/{name}/import", summary="Import a bank file (multipart: file, format)")
def import_file(
    name: BankName,
    db: DbSession,
    actor: Writer,
    settings: SettingsDep,
    file: Annotated[UploadFile, File(description="CSV, JSON Lines or local_file text, UTF-8.")],
    format: Annotated[
        str, Form(max_length=20, description="auto (by extension), csv, jsonl or local_file")
    ] = "auto",
) -> ImportReport:
    """All or nothing. Malformed lines are rejected (counted; the first 100 listed with line
    numbers) and the rest imported; an unreadable file, or more rejected lines than the
    import_max_rejected setting, fails with 422 and imports nothing."""
    fmt = io.resolve_format(format, file.filename)
    limits = io.ImportLimits(max_rejected=settings.import_max_rejected)
    return io.import_entries(db, name, file.file, fmt, actor=actor, limits=limits)


@router.get(
    "/{name}/export",
    summary="Download a bank's entries (not removed) as csv, jsonl or local_file",
    response_class=StreamingResponse,
)
def export_file(
    name: BankName,
    db: DbSession,
    _: Reader,
    database: Annotated[Database, Depends(get_database)],
    format: Annotated[FileFormat, Query()] = FileFormat.CSV,
) -> StreamingResponse:
    bank_id = service.get_bank(db, name).id

    def body() -> Iterator[bytes]:
        # The request's session is closed once this function returns; the stream reads
        # with its own.
        with database.session() as session:
            bank = repository.get_bank(session, bank_id)
            if bank is not None:
                yield from io.export_entries(session, bank, format)

    filename = io.export_filename(name, format)
    return StreamingResponse(
        body(),
        media_type=_MEDIA_TYPES[format],
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
