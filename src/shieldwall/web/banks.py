"""Bank pages: the list with a create form, and one bank with its counts, newest entries,
recent changes, an enable/disable switch and a file import."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import Response
from pydantic import ValidationError

from shieldwall.api.deps import DbSession
from shieldwall.audit import repository as audit_repository
from shieldwall.banks import io, repository, service
from shieldwall.banks.models import Bank
from shieldwall.banks.schemas import (
    BankAction,
    BankCreate,
    BankKind,
    BankUpdate,
    FileFormat,
    ImportReport,
)
from shieldwall.core.access import VALUE_ROLES, Scope
from shieldwall.core.errors import ShieldwallError
from shieldwall.web.render import form_error, render, see_other
from shieldwall.web.security import (
    CsrfChecked,
    WebUser,
    page_requires,
    rotate_csrf,
)

router = APIRouter(include_in_schema=False)
BanksReader = Annotated[WebUser, page_requires(Scope.BANKS_READ)]
BanksWriter = Annotated[WebUser, page_requires(Scope.BANKS_WRITE)]
RECENT = 20


def _bank_path(name: str) -> str:
    return f"/banks/{quote(name, safe='')}"


def _checkbox(value: str | None) -> bool:
    return value is not None and value.lower() in ("on", "true", "1", "yes")


def _list_page(
    request: Request,
    db: DbSession,
    *,
    error: str | None = None,
    form: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    return render(
        request,
        "banks.html",
        {
            "banks": service.describe(db, repository.list_banks(db)),
            "kinds": list(BankKind),
            "actions": list(BankAction),
            "error": error,
            "form": form or {},
        },
        status=status,
    )


@router.get("/banks")
def banks_page(request: Request, db: DbSession, user: BanksReader) -> Response:
    return _list_page(request, db)


@router.post("/banks", dependencies=[CsrfChecked])
def banks_create(
    request: Request,
    db: DbSession,
    user: BanksWriter,
    name: Annotated[str, Form(max_length=200)] = "",
    kind: Annotated[str, Form(max_length=20)] = BankKind.BLOCK.value,
    action: Annotated[str, Form(max_length=20)] = BankAction.BLOCK.value,
    labels: Annotated[str, Form(max_length=5000)] = "",
    pdq_threshold: Annotated[str, Form(max_length=10)] = "31",
    description: Annotated[str, Form(max_length=4000)] = "",
    dihedral: Annotated[str | None, Form(max_length=10)] = None,
    letterbox: Annotated[str | None, Form(max_length=10)] = None,
) -> Response:
    form = {
        "name": name.strip(),
        "kind": kind,
        "action": action,
        "labels": labels,
        "pdq_threshold": pdq_threshold,
        "description": description,
    }
    try:
        data = BankCreate.model_validate(
            {
                "name": name.strip(),
                "kind": kind,
                "action": None if kind == BankKind.ALLOW.value else (action or None),
                "labels": labels.replace(",", " ").split(),
                "pdq_threshold": pdq_threshold.strip() or "31",
                "description": description,
                "dihedral": _checkbox(dihedral),
                "letterbox": _checkbox(letterbox),
            }
        )
        bank = service.create_bank(db, data, actor=user.principal)
    except (ValidationError, ShieldwallError) as exc:
        db.rollback()
        status = exc.status if isinstance(exc, ShieldwallError) else 422
        return _list_page(request, db, error=form_error(exc), form=form, status=status)
    return see_other(request, _bank_path(bank.name))


def _detail_page(
    request: Request,
    db: DbSession,
    user: WebUser,
    bank: Bank,
    *,
    error: str | None = None,
    notice: str | None = None,
    report: ImportReport | None = None,
    status: int = 200,
) -> Response:
    return render(
        request,
        "bank_detail.html",
        {
            "bank": service.describe(db, [bank])[0],
            "entries": repository.list_entries(db, bank.id, limit=RECENT, newest_first=True),
            "events": audit_repository.list_events(db, subject=f"bank:{bank.id}", limit=RECENT),
            "show_values": user.role in VALUE_ROLES,
            "can_write": user.can(Scope.BANKS_WRITE),
            "formats": list(FileFormat),
            "path": _bank_path(bank.name),
            "error": error,
            "notice": notice,
            "report": report,
        },
        status=status,
    )


@router.get("/banks/{name}")
def bank_page(request: Request, db: DbSession, user: BanksReader, name: str) -> Response:
    try:
        bank = service.get_bank(db, name)
    except ShieldwallError as exc:
        return _list_page(request, db, error=exc.message, status=exc.status)
    return _detail_page(request, db, user, bank)


@router.post("/banks/{name}/enabled", dependencies=[CsrfChecked])
def bank_enable(
    request: Request,
    db: DbSession,
    user: BanksWriter,
    name: str,
    enabled: Annotated[str, Form(max_length=10)],
) -> Response:
    try:
        service.update_bank(db, name, BankUpdate(enabled=_checkbox(enabled)), actor=user.principal)
    except ShieldwallError as exc:
        db.rollback()
        return _list_page(request, db, error=exc.message, status=exc.status)
    return see_other(request, _bank_path(name))


@router.post("/banks/{name}/import", dependencies=[CsrfChecked])
def bank_import(
    request: Request,
    db: DbSession,
    user: BanksWriter,
    name: str,
    file: Annotated[UploadFile, File()],
    format: Annotated[str, Form(max_length=20)] = "auto",
) -> Response:
    settings = request.app.state.settings
    try:
        fmt = io.resolve_format(format, file.filename)
        limits = io.ImportLimits(max_rejected=settings.import_max_rejected)
        report = io.import_entries(db, name, file.file, fmt, actor=user.principal, limits=limits)
    except ShieldwallError as exc:
        db.rollback()
        try:
            bank = service.get_bank(db, name)
        except ShieldwallError:
            return _list_page(request, db, error=exc.message, status=exc.status)
        return _detail_page(request, db, user, bank, error=exc.message, status=exc.status)
    # The answer shows the report; a reload re-sends the form, which the rotated csrf cookie
    # turns into a refused stale form instead of a second import.
    rotate_csrf(request)
    notice = (
        f"Imported {file.filename or 'the file'}: {report.added:,} added, "
        f"{report.duplicates:,} duplicate(s), {report.revived:,} revived, "
        f"{report.rejected:,} rejected."
    )
    response = _detail_page(
        request, db, user, service.get_bank(db, name), notice=notice, report=report
    )
    response.headers["Cache-Control"] = "no-store"
    return response
