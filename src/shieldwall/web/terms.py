"""Term-list pages: the lists with a create form, and one list with its newest entries, an
add-entry form, a file import and an on/off switch (principles 3, 4 and 6)."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy import select

from shieldwall.api.deps import DbSession
from shieldwall.core.access import VALUE_ROLES, Scope
from shieldwall.core.errors import ShieldwallError
from shieldwall.core.text_match import EntryKind, Severity
from shieldwall.textsignals import io, repository, service
from shieldwall.textsignals.models import TermEntry, TermList
from shieldwall.textsignals.schemas import (
    Category,
    ImportReport,
    TermEntryIn,
    TermListCreate,
    TermListUpdate,
)
from shieldwall.web.render import form_error, render, see_other
from shieldwall.web.security import CsrfChecked, WebUser, page_requires, rotate_csrf

router = APIRouter(include_in_schema=False)
TermsReader = Annotated[WebUser, page_requires(Scope.BANKS_READ)]
TermsWriter = Annotated[WebUser, page_requires(Scope.BANKS_WRITE)]
RECENT = 50


def _path(name: str) -> str:
    return f"/terms/{quote(name, safe='')}"


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
        "terms/lists.html",
        {
            "lists": service.describe(db, repository.list_lists(db)),
            "error": error,
            "form": form or {},
        },
        status=status,
    )


def _newest(db: DbSession, term_list: TermList) -> list[TermEntry]:
    return list(
        db.scalars(
            select(TermEntry)
            .where(TermEntry.list_id == term_list.id)
            .order_by(TermEntry.id.desc())
            .limit(RECENT)
        )
    )


def _detail_page(
    request: Request,
    db: DbSession,
    user: WebUser,
    term_list: TermList,
    *,
    error: str | None = None,
    notice: str | None = None,
    report: ImportReport | None = None,
    status: int = 200,
) -> Response:
    return render(
        request,
        "terms/detail.html",
        {
            "term_list": service.describe(db, [term_list])[0],
            "entries": _newest(db, term_list),
            "show_values": user.role in VALUE_ROLES,
            "can_write": user.can(Scope.BANKS_WRITE),
            "kinds": list(EntryKind),
            "categories": list(Category),
            "severities": list(Severity),
            "path": _path(term_list.name),
            "error": error,
            "notice": notice,
            "report": report,
        },
        status=status,
    )


@router.get("/terms")
def terms_page(request: Request, db: DbSession, user: TermsReader) -> Response:
    return _list_page(request, db)


@router.post("/terms", dependencies=[CsrfChecked])
def terms_create(
    request: Request,
    db: DbSession,
    user: TermsWriter,
    name: Annotated[str, Form(max_length=200)] = "",
    description: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    form = {"name": name.strip(), "description": description}
    try:
        data = TermListCreate.model_validate(form)
        created = service.create_list(db, data, actor=user.principal)
    except (ValidationError, ShieldwallError) as exc:
        db.rollback()
        status = exc.status if isinstance(exc, ShieldwallError) else 422
        return _list_page(request, db, error=form_error(exc), form=form, status=status)
    return see_other(request, _path(created.name))


@router.get("/terms/{name}")
def term_list_page(request: Request, db: DbSession, user: TermsReader, name: str) -> Response:
    try:
        term_list = service.get_list(db, name)
    except ShieldwallError as exc:
        return _list_page(request, db, error=exc.message, status=exc.status)
    return _detail_page(request, db, user, term_list)


@router.post("/terms/{name}/entries", dependencies=[CsrfChecked])
def term_add(
    request: Request,
    db: DbSession,
    user: TermsWriter,
    name: str,
    kind: Annotated[str, Form(max_length=20)] = "term",
    value: Annotated[str, Form(max_length=1000)] = "",
    category: Annotated[str, Form(max_length=40)] = "",
    severity: Annotated[str, Form(max_length=10)] = "medium",
    language: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    try:
        term_list = service.get_list(db, name)
    except ShieldwallError as exc:
        return _list_page(request, db, error=exc.message, status=exc.status)
    try:
        entry = TermEntryIn.model_validate(
            {
                "kind": kind,
                "value": value,
                "category": category,
                "severity": severity,
                "language": language.strip(),
            }
        )
        service.add_entries(db, name, [entry], actor=user.principal)
    except (ValidationError, ShieldwallError) as exc:
        db.rollback()
        status = exc.status if isinstance(exc, ShieldwallError) else 422
        term_list = service.get_list(db, name)
        return _detail_page(request, db, user, term_list, error=form_error(exc), status=status)
    return see_other(request, _path(term_list.name))


@router.post("/terms/{name}/enabled", dependencies=[CsrfChecked])
def term_enable(
    request: Request,
    db: DbSession,
    user: TermsWriter,
    name: str,
    enabled: Annotated[str, Form(max_length=10)],
) -> Response:
    on = enabled.lower() in ("on", "true", "1", "yes")
    try:
        service.update_list(db, name, TermListUpdate(enabled=on), actor=user.principal)
    except ShieldwallError as exc:
        db.rollback()
        return _list_page(request, db, error=exc.message, status=exc.status)
    return see_other(request, _path(name))


@router.post("/terms/{name}/import", dependencies=[CsrfChecked])
def term_import(
    request: Request,
    db: DbSession,
    user: TermsWriter,
    name: str,
    file: Annotated[UploadFile, File()],
    format: Annotated[str, Form(max_length=20)] = "auto",
) -> Response:
    settings = request.app.state.settings
    try:
        fmt = io.resolve_format(format, file.filename)
        report = io.import_entries(
            db,
            name,
            file.file,
            fmt,
            actor=user.principal,
            max_bytes=settings.import_max_bytes,
            max_rejected=settings.import_max_rejected,
        )
    except ShieldwallError as exc:
        db.rollback()
        try:
            term_list = service.get_list(db, name)
        except ShieldwallError:
            return _list_page(request, db, error=exc.message, status=exc.status)
        return _detail_page(request, db, user, term_list, error=exc.message, status=exc.status)
    rotate_csrf(request)
    notice = (
        f"Imported {file.filename or 'the file'}: {report.added:,} added, "
        f"{report.duplicates:,} duplicate(s), {report.rejected:,} rejected."
    )
    response = _detail_page(
        request, db, user, service.get_list(db, name), notice=notice, report=report
    )
    response.headers["Cache-Control"] = "no-store"
    return response
